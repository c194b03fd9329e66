"""Run model-written Python in a separate, killable, resource-limited process.

This is the interim runner (the bubblewrap sandbox replaces its isolation later); the rules
below already hold and stay:
- Never `exec` model code in this process; never use `preexec_fn` (llama.cpp threads live
  here): limits are set by a bootstrap inside the child before the code runs.
- The child runs isolated (`python -I`), in a new session, in a throwaway directory, with a
  cleared environment; on the wall-clock limit its whole process group is killed.
- Output goes to files under the throwaway directory, capped by RLIMIT_FSIZE, and only the
  first `output_bytes` of each are read back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ISOLATION = "process"

_BOOTSTRAP = r"""
import resource, sys
cpu, mem, fsize, nofile = (int(x) for x in sys.argv[1:5])
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
source = open("main.py", encoding="utf-8").read()
del resource, cpu, mem, fsize, nofile
code = compile(source, "main.py", "exec")
del source
sys.argv = ["main.py"]
exec(code, {"__name__": "__main__"})
"""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one run."""

    wall_seconds: float = 5.0
    cpu_seconds: int = 5
    memory_bytes: int = 512 * 1024 * 1024
    file_bytes: int = 16 * 1024 * 1024
    output_bytes: int = 64 * 1024
    open_files: int = 64


@dataclass(frozen=True)
class RunResult:
    """What running the code did."""

    status: str  # ok, error, timeout, memory, output-truncated
    stdout: str
    stderr: str
    exit_code: int | None
    seconds: float
    isolation: str = ISOLATION

    @property
    def ok(self) -> bool:
        """True when the code ran to completion with exit status 0."""
        return self.status == "ok"


def run_python(code: str, limits: Limits = Limits()) -> RunResult:
    """Run `code` in a child Python process under `limits`."""
    with tempfile.TemporaryDirectory(prefix="ponder-run-") as work:
        workdir = Path(work)
        (workdir / "main.py").write_text(code, encoding="utf-8")
        start = time.monotonic()
        exit_code, timed_out = _spawn(workdir, limits)
        seconds = time.monotonic() - start
        stdout, out_cut = _read_capped(workdir / "stdout", limits.output_bytes)
        stderr, err_cut = _read_capped(workdir / "stderr", limits.output_bytes)
    status = _status(exit_code, timed_out, out_cut or err_cut, stderr)
    return RunResult(status, stdout, stderr, exit_code, round(seconds, 3))


def _spawn(workdir: Path, limits: Limits) -> tuple[int | None, bool]:
    argv = [
        sys.executable, "-I", "-c", _BOOTSTRAP,
        str(limits.cpu_seconds), str(limits.memory_bytes), str(limits.file_bytes), str(limits.open_files),
    ]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    with open(workdir / "stdout", "wb") as out, open(workdir / "stderr", "wb") as err:
        proc = subprocess.Popen(
            argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            start_new_session=True, close_fds=True,
        )
        try:
            return proc.wait(timeout=limits.wall_seconds), False
        except subprocess.TimeoutExpired:
            return None, True
        finally:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _read_capped(path: Path, cap: int) -> tuple[str, bool]:
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except OSError:
        return "", False
    return data[:cap].decode("utf-8", errors="replace"), len(data) > cap


def _status(exit_code: int | None, timed_out: bool, truncated: bool, stderr: str) -> str:
    if timed_out or exit_code in (-signal.SIGXCPU, -signal.SIGKILL):
        return "timeout"
    if "MemoryError" in stderr:
        return "memory"
    if truncated or exit_code == -signal.SIGXFSZ:
        return "output-truncated"
    return "ok" if exit_code == 0 else "error"
