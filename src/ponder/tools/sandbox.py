"""Run untrusted Python (written by a model that may have read a hostile question).

Rules that must hold:
- Untrusted code never runs in this process: no exec/eval here, and no `preexec_fn`
  (llama.cpp threads live here). Limits are set by a bootstrap inside the child.
- Isolation `bwrap`: bubblewrap with every namespace unshared (no network, a fresh /proc whose
  folders of kernel knobs, PROC_COVERED, are empty read-only tmpfs, its own pids), only the interpreter and libraries
  visible (read-only), a size-capped tmpfs as the throwaway working directory (/work, 64 MiB)
  and /tmp (16 MiB), and nothing else writable: the root and /dev (tmpfs that bwrap makes
  without a size cap) are remounted read-only, so model code can hold at most 80 MiB of host
  memory on disk. As root the sandbox's user is root outside (capabilities dropped), the owner
  of root's files: so it reaches none of the host's (no /proc/sys, no device nodes, output on
  pipes), a new session (no terminal to inject into),
  death with its parent, a cleared environment, no capabilities and, where bwrap can, no user
  namespaces of its own (one would let it mount an uncapped tmpfs); inside, rlimits on CPU,
  address space, file size, open files and processes (counted in its own user namespace),
  and no core dumps. As root, whose process count no rlimit bounds, a pids cgroup bounds it
  and a memory cgroup bounds all its memory (tmpfs and memfd pages too), where they can be made.
- Scratch directories and cgroups carry the making process's pid; the first run of a process
  removes those whose process is gone and that are unchanged for an hour (a ponder killed
  mid-run), a cgroup only when empty: the sweep kills nothing.
- Isolation `rlimits` (no bwrap or no user namespaces): the same child, rlimits, session,
  environment and directory, but the host's files and network stay reachable. It is
  recorded in every result; `strict` mode refuses to run instead.
- A wall-clock limit kills the whole process tree. Output comes back on pipes, never through
  a file on the host: what is kept is capped (output_bytes), and a run that writes more than
  file_bytes on one is stopped ("output-truncated"); files it writes inside are capped by
  RLIMIT_FSIZE. A bwrap run leaves no process behind (without bwrap, one that
  leaves its session can outlive the run, as the README says).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import util as importlib_util
from pathlib import Path
from typing import Any

from ponder.leftovers import left_by_the_dead

MODES = ("auto", "strict", "off")
LIBRARIES = ("sympy", "mpmath")  # importable inside the sandbox, read-only
SITE = "/opt/ponder/site"
SCRATCH_PREFIX = "ponder-sandbox-"  # + the pid of the ponder that made it, so a later run can sweep it

_BOOTSTRAP = r"""
import resource, sys
cpu, mem, fsize, nofile, nproc = (int(x) for x in sys.argv[1:6])
limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, mem),
          (resource.RLIMIT_FSIZE, fsize), (resource.RLIMIT_NOFILE, nofile)]
if nproc > 0:
    limits.append((resource.RLIMIT_NPROC, nproc))
for which, value in limits:
    resource.setrlimit(which, (value, value))
sys.path[:0] = sys.argv[6:]
sys.argv = ["main.py", SOURCE[: -len("main.py")] + "input.json"]
with open(SOURCE, encoding="utf-8") as f:
    code = compile(f.read(), "main.py", "exec")
del resource, cpu, mem, fsize, nofile, nproc, limits, which, value, f
exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
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
    processes: int = 16
    disk_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class Result:
    """What running the code did."""

    status: str  # ok, error, timeout, memory, output-truncated, refused
    stdout: str
    stderr: str
    exit_code: int | None
    seconds: float
    isolation: str  # bwrap, rlimits or none

    @property
    def ok(self) -> bool:
        """True when the code ran to completion with exit status 0."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


class Sandbox:
    """Runs Python code under the strongest isolation available."""

    def __init__(self, mode: str = "auto", limits: Limits = Limits()) -> None:
        if mode not in MODES:
            raise ValueError(f"sandbox mode must be one of {', '.join(MODES)}")
        self.mode = mode
        self.limits = limits

    @property
    def isolation(self) -> str:
        """The isolation runs will get: bwrap, rlimits, or none (refused)."""
        if self.mode == "off":
            return "none"
        if bwrap_works():
            return "bwrap"
        return "none" if self.mode == "strict" else "rlimits"

    def run(self, code: str, data: Any = None) -> Result:
        """Run `code` as a script; `data`, if given, is JSON in the file named by sys.argv[1]."""
        isolation = self.isolation
        if isolation == "none":
            why = "code running is off" if self.mode == "off" else "no bubblewrap sandbox is available (--sandbox strict)"
            return Result("refused", "", why, None, 0.0, "none")
        with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as tmp:
            return _run_in(Path(tmp), code, data, self.limits, isolation)


def _run_in(tmp: Path, code: str, data: Any, limits: Limits, isolation: str) -> Result:
    code_dir = tmp / "code"
    code_dir.mkdir()
    (code_dir / "main.py").write_text(code, encoding="utf-8", errors="replace")  # a lone surrogate: '?' 
    if data is not None:
        (code_dir / "input.json").write_text(json.dumps(data), encoding="utf-8")
    work = tmp / "work"
    work.mkdir()
    for path in (tmp, code_dir, work):
        path.chmod(0o755 if path != work else 0o777)
    if isolation == "bwrap":
        argv, cwd = _bwrap_argv(code_dir, limits), None
    else:
        argv, cwd = _plain_argv(code_dir, limits), work
    start = time.monotonic()
    with _Cgroups(limits) as cgroups:
        ran = _spawn(cgroups.wrap(argv), cwd, limits)
        oom = cgroups.oom_killed()
    seconds = round(time.monotonic() - start, 3)
    out, err = ran.streams
    truncated = ran.flooded or out.total > limits.output_bytes
    status = _status(ran.exit_code, ran.timed_out, truncated, err.tail.decode("utf-8", errors="replace"), oom)
    return Result(status, out.text(), err.text(), ran.exit_code, seconds, isolation)


def _python() -> str:
    return os.path.realpath(sys.executable)


def _library_dirs() -> list[tuple[str, str]]:
    pairs = []
    for name in LIBRARIES:
        spec = importlib_util.find_spec(name)
        if spec and spec.submodule_search_locations:
            pairs.append((list(spec.submodule_search_locations)[0], f"{SITE}/{name}"))
    return pairs


def _bootstrap_args(limits: Limits, source: str, nproc: int, paths: list[str]) -> list[str]:
    bootstrap = f"SOURCE = {source!r}\n" + _BOOTSTRAP
    return [
        "-I", "-S", "-c", bootstrap,
        str(limits.cpu_seconds), str(limits.memory_bytes), str(limits.file_bytes),
        str(limits.open_files), str(nproc), *paths,
    ]


def _process_limit(limits: Limits, isolation: str) -> int:
    """RLIMIT_NPROC for the child. Root ignores it (the pids cgroup bounds root instead). Under
    bwrap the kernel counts only the processes in the sandbox's own user namespace (bwrap's
    init, then the interpreter); without it, every process of the real uid, so what it has now
    is added to the limit."""
    if os.geteuid() == 0:
        return 0
    if isolation == "bwrap":
        return limits.processes + 2
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                pass
    return count + limits.processes


def _bwrap_argv(code_dir: Path, limits: Limits) -> list[str]:
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--hostname", "sandbox", *_user_flags(), *_nesting_flags()]
    argv += _system_mounts()
    prefix = sys.base_prefix
    if not prefix.startswith("/usr/"):
        argv += ["--ro-bind", prefix, prefix]
    libs = _library_dirs()
    for host, inside in libs:
        argv += ["--ro-bind", host, inside]
    argv += [
        "--proc", "/proc", *_proc_covers(), *_dev_mounts(),
        "--size", str(16 * 1024 * 1024), "--tmpfs", "/tmp",
        "--size", str(limits.disk_bytes), "--tmpfs", "/work",
        "--ro-bind", str(code_dir), "/code", "--chdir", "/work",
        "--remount-ro", "/", "--remount-ro", "/dev",  # the root and /dev are tmpfs too: no cap, so no writes
        *(arg for folder in _covered_proc() for arg in ("--remount-ro", folder)),
        "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/work",
        "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        "--", _python(),
    ]
    return argv + _bootstrap_args(limits, "/code/main.py", _process_limit(limits, "bwrap"), [SITE] if libs else [])


PROC_COVERED = ("sys", "irq", "bus", "acpi", "scsi", "driver", "fs", "pressure", "sysvipc", "tty")


def _covered_proc() -> list[str]:
    """The folders of /proc that hold the kernel's knobs (sysctls, IRQ affinity, PCI config,
    pressure triggers): where they exist, each is an empty read-only tmpfs in the sandbox."""
    return [f"/proc/{name}" for name in PROC_COVERED if os.path.isdir(f"/proc/{name}")]


def _proc_covers() -> list[str]:
    return [arg for folder in _covered_proc() for arg in ("--tmpfs", folder)]


def _dev_mounts() -> list[str]:
    """/dev: bubblewrap's (the host's null, zero, full, random, urandom and tty nodes, and a pts
    of its own); as root none of the host's nodes, whose owner the sandbox's user then is (it
    could chmod the host's /dev/null), only the links to the process's own descriptors."""
    if os.geteuid() != 0:
        return ["--dev", "/dev"]
    links = {"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0", "/dev/stdout": "/proc/self/fd/1",
             "/dev/stderr": "/proc/self/fd/2"}
    return ["--tmpfs", "/dev", *(arg for link, target in links.items() for arg in ("--symlink", target, link))]


def _system_mounts() -> list[str]:
    mounts = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin", "lib32"):
        path = Path("/") / name
        if path.is_symlink():
            mounts += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            mounts += ["--ro-bind", str(path), str(path)]
    return mounts


def _plain_argv(code_dir: Path, limits: Limits) -> list[str]:
    paths = sorted({str(Path(host).parent) for host, _ in _library_dirs()})
    return [_python(), *_bootstrap_args(limits, str(code_dir / "main.py"), _process_limit(limits, "rlimits"), paths)]


def _user_flags() -> list[str]:
    """As root, a user namespace of its own whose uid is nobody's inside (outside, it is still
    root's, without capabilities: so no host file it owns is reachable, see `_dev_mounts`)."""
    return ["--unshare-user", "--uid", "65534", "--gid", "65534"] if os.geteuid() == 0 else []


@functools.lru_cache(maxsize=1)
def bwrap_works() -> bool:
    """Whether bubblewrap is installed and can create its namespaces here."""
    return shutil.which("bwrap") is not None and _bwrap_runs(_user_flags())


@functools.lru_cache(maxsize=1)
def _nesting_flags() -> tuple[str, ...]:
    """Flags that stop sandboxed code making user namespaces of its own (where a user namespace
    could mount an uncapped tmpfs), where this bubblewrap has them (0.8+, not setuid)."""
    flags = ("--disable-userns", "--assert-userns-disabled")
    if not _user_flags():
        flags = ("--unshare-user", *flags)  # they need a user namespace made on purpose
    return flags if _bwrap_runs([*_user_flags(), *flags]) else ()


def _bwrap_runs(flags: list[str] | tuple[str, ...]) -> bool:
    argv = ["bwrap", "--unshare-all", *flags, "--die-with-parent", "--new-session", *_system_mounts(),
            "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@dataclass
class _Captured:
    """What a run wrote on one pipe: its first `cap` bytes, its last TAIL_BYTES, and how much in all."""

    cap: int
    head: bytearray = field(default_factory=bytearray)
    tail: bytes = b""
    total: int = 0

    def add(self, chunk: bytes) -> None:
        """Keep what fits of a chunk read from the pipe."""
        self.head += chunk[: max(0, self.cap - len(self.head))]
        self.tail = (self.tail + chunk)[-TAIL_BYTES:]
        self.total += len(chunk)

    def text(self) -> str:
        """The kept head, decoded (bytes that are not UTF-8 replaced)."""
        return self.head.decode("utf-8", errors="replace")


@dataclass
class _Ran:
    """How a run ended: its exit code (None when the wall limit stopped it) and what it wrote."""

    exit_code: int | None
    timed_out: bool
    flooded: bool  # it wrote more than limits.file_bytes on a pipe and was stopped
    streams: tuple[_Captured, _Captured]


TAIL_BYTES = 4096  # of stderr, where a traceback names its exception
EOF_GRACE = 0.5  # seconds to read what is left once the process has ended


def _spawn(argv: list[str], cwd: Path | None, limits: Limits) -> _Ran:
    """Run `argv` with its output on pipes read here (never a file on the host that the code
    could own, grow or chmod), until it ends, floods or the wall limit passes."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
    captured = (_Captured(limits.output_bytes), _Captured(limits.output_bytes))
    deadline = time.monotonic() + limits.wall_seconds
    timed_out = flooded = False
    try:
        with selectors.DefaultSelector() as selector:
            for pipe, capture in zip((proc.stdout, proc.stderr), captured):
                os.set_blocking(pipe.fileno(), False)  # type: ignore[union-attr]
                selector.register(pipe, selectors.EVENT_READ, capture)  # type: ignore[arg-type]
            ended: float | None = None
            while selector.get_map() and not flooded:
                now = time.monotonic()
                if ended is None and proc.poll() is not None:
                    ended = now
                    _kill_group(proc)  # what it left in its session goes too; pipes then close
                stop = deadline if ended is None else min(deadline, ended + EOF_GRACE)
                if now >= stop:
                    timed_out = ended is None
                    break
                for key, _ in selector.select(min(stop - now, 0.1)):
                    chunk = os.read(key.fd, 1 << 16)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    key.data.add(chunk)
                    flooded = flooded or key.data.total > limits.file_bytes
            if not timed_out and not flooded and ended is None:
                proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(proc)
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()  # type: ignore[union-attr]
    return _Ran(None if timed_out else proc.returncode, timed_out, flooded, captured)


def _kill_group(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _status(exit_code: int | None, timed_out: bool, truncated: bool, stderr_tail: str, oom: bool = False) -> str:
    """The run's status: a signal is a negative exit code (the process itself) or 128 + it
    (bwrap passing its child's on); MemoryError only as the exception a failed run ended on."""
    signals = {-(exit_code or 0), (exit_code or 0) - 128}
    if timed_out or signal.SIGXCPU in signals:
        return "timeout"
    if oom or (exit_code != 0 and _last_exception(stderr_tail) == "MemoryError"):
        return "memory"
    if truncated or signal.SIGXFSZ in signals:
        return "output-truncated"
    return "ok" if exit_code == 0 else "error"


def _last_exception(stderr_tail: str) -> str:
    """The name of the exception a traceback ends with ('' when the last line is not one)."""
    lines = stderr_tail.strip().splitlines()
    return lines[-1].split(":", 1)[0].strip() if lines else ""


class _Cgroups:
    """Cgroups that bound the sandbox's process count and its memory in all (tmpfs and memfd
    pages included, which no rlimit counts), for root, where they can be made: a pids and a
    memory cgroup (cgroup v1), or one cgroup with both (v2). A run that the memory cgroup's
    OOM killer ended reports "memory"."""

    PREFIX = "ponder-"
    V1, V2 = Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.paths: list[Path] = []

    def __enter__(self) -> "_Cgroups":
        if os.geteuid() == 0:
            _sweep_once()
            name = f"{self.PREFIX}{os.getpid()}-{time.monotonic_ns()}"
            for path, settings in _cgroup_plan(self.limits):
                if made := self._make(path / name, settings):
                    self.paths.append(made)
        return self

    def _make(self, path: Path, settings: dict[str, str]) -> Path | None:
        try:
            path.mkdir()
        except OSError:
            return None
        try:
            for key, value in settings.items():
                (path / key).write_text(value)
            return path
        except OSError:
            _remove_cgroup(path)
            return None

    def wrap(self, argv: list[str]) -> list[str]:
        """argv that first moves itself into the cgroups, then execs the real command."""
        if not self.paths:
            return argv
        join = 'n=$0; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n - 1)); done; exec "$@"'
        return ["/bin/sh", "-c", join, str(len(self.paths)), *(str(p / "cgroup.procs") for p in self.paths), *argv]

    def oom_killed(self) -> bool:
        """Whether the memory cgroup's OOM killer ended a process of the run."""
        for path in self.paths:
            for name in ("memory.events", "memory.oom_control"):
                try:
                    text = (path / name).read_text()
                except OSError:
                    continue
                counts = dict(line.split()[:2] for line in text.splitlines() if len(line.split()) >= 2)
                if counts.get("oom_kill", "0") != "0":
                    return True
        return False

    def __exit__(self, *exc: object) -> None:
        for path in self.paths:
            _remove_cgroup(path)


def _cgroup_plan(limits: Limits) -> list[tuple[Path, dict[str, str]]]:
    """Where the run's cgroups go and what each bounds: v1's pids and memory hierarchies, or v2."""
    memory = str(limits.memory_bytes + limits.disk_bytes + 16 * 1024 * 1024)  # with /tmp's tmpfs
    pids = str(limits.processes + 4)
    v1 = _Cgroups.V1
    if (v1 / "pids" / "cgroup.procs").exists():
        plan = [(v1 / "pids", {"pids.max": pids})]
        if (v1 / "memory" / "cgroup.procs").exists():
            plan.append((v1 / "memory", {"memory.limit_in_bytes": memory}))
        return plan
    v2 = _Cgroups.V2
    try:
        controllers = (v2 / "cgroup.subtree_control").read_text().split()
    except OSError:
        return []
    settings = {"pids.max": pids} if "pids" in controllers else {}
    if "memory" in controllers:
        settings |= {"memory.max": memory, "memory.swap.max": "0"}
    return [(v2, settings)] if settings else []


def _remove_cgroup(path: Path) -> None:
    for _ in range(50):
        try:
            pids = (path / "cgroup.procs").read_text().split()
        except OSError:
            pids = []
        for pid in pids:
            if pid.isdigit() and int(pid) > 0:  # 0: a process of another pid namespace (kill(0) is our own group)
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


SWEEP_AGE = 3600.0  # seconds since a leftover last changed: no run of a live ponder is that old


@functools.lru_cache(maxsize=1)
def _sweep_once() -> None:
    """Remove what runs of processes that died (killed mid-run) left: their cgroups (only
    when empty: the sandbox died with its parent; nothing is killed) and scratch directories,
    which carry the pid of the ponder that made them and are left alone for SWEEP_AGE (a
    pid of another pid namespace sharing /tmp or the cgroup tree looks dead from here)."""
    for root in (_Cgroups.V1 / "pids", _Cgroups.V1 / "memory", _Cgroups.V2):
        for path in left_by_the_dead(root, _Cgroups.PREFIX, SWEEP_AGE):
            with contextlib.suppress(OSError):
                path.rmdir()
    for path in left_by_the_dead(Path(tempfile.gettempdir()), SCRATCH_PREFIX, SWEEP_AGE):
        shutil.rmtree(path, ignore_errors=True)
