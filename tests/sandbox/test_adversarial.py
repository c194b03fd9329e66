"""Hostile code against the real sandbox. Each case asserts, on the host: no effect (canary
files, a listener socket, a fake HOME, the parent's environment), a result within the wall
limit + 1 s, no process left behind, and that the next run still works.

CI runs this as root with bubblewrap installed by .ci/run; `test_fallback.py` covers the
path without it. Without it, each case fails with one line (the `bwrap` marker, conftest.py).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from ponder.tools.sandbox import Limits, Sandbox
from ponder.tools.sympy_check import run_check

WALL = 2.0
pytestmark = pytest.mark.bwrap
LIMITS = Limits(wall_seconds=WALL, cpu_seconds=2)
MARKER = "SOURCE = "  # in the command line of every sandboxed interpreter


def sandbox_processes() -> list[str]:
    """Command lines of live processes started by the sandbox (or a marked sleep)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if MARKER in cmdline or "4321" in cmdline:
            found.append(f"{entry.name}: {cmdline[:80]}")
    return found


@pytest.fixture(scope="module")
def sandbox():
    """The real sandbox, with bubblewrap (required here, by the `bwrap` marker: CI installs it)."""
    return Sandbox("auto", LIMITS)


def hostile(sandbox, code: str):
    """Run hostile code and assert the properties every case shares."""
    start = time.monotonic()
    result = sandbox.run(code)
    elapsed = time.monotonic() - start
    assert elapsed <= WALL + 1.0, f"took {elapsed:.1f}s"
    assert result.isolation == "bwrap"
    deadline = time.monotonic() + 1.0
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes() == [], "a process was left behind"
    assert sandbox.run("print(1 + 1)").stdout == "2\n", "the next run must still work"
    return result


@pytest.fixture
def canary(tmp_path):
    """A host path the sandbox must not be able to create."""
    path = tmp_path / f"canary-{uuid.uuid4().hex}"
    yield path
    assert not path.exists(), "the sandbox wrote to the host"


def test_os_system_cannot_write_a_host_canary(sandbox, canary):
    hostile(sandbox, f"import os\nos.system('echo pwned > {canary}')")


def test_subprocess_cannot_write_a_host_canary(sandbox, canary):
    hostile(sandbox, f"import subprocess\nsubprocess.run(['sh', '-c', 'echo pwned > {canary}'])")


def test_subclasses_walk_to_popen(sandbox, canary):
    code = (
        "popen = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen']\n"
        "import subprocess\n"
        "popen = popen or [subprocess.Popen]\n"
        f"popen[0](['sh', '-c', 'echo pwned > {canary}']).wait()\n"
    )
    hostile(sandbox, code)


def test_ctypes_system(sandbox, canary):
    hostile(sandbox, f"import ctypes\nctypes.CDLL(None).system(b'echo pwned > {canary}')")


def test_posix_system(sandbox, canary):
    hostile(sandbox, f"import posix\nposix.system('echo pwned > {canary}')")


def test_importlib_reload_os(sandbox, canary):
    hostile(sandbox, f"import importlib, os\nos = importlib.reload(os)\nos.system('touch {canary}')")


def test_busy_loop_is_stopped(sandbox):
    assert hostile(sandbox, "while True: pass").status == "timeout"


def test_loop_catching_base_exception_is_stopped(sandbox):
    code = "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass\n"
    assert hostile(sandbox, code).status == "timeout"


def test_ignoring_sigalrm_and_sigxcpu_does_not_help(sandbox):
    code = ("import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
            "signal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True: pass\n")
    assert hostile(sandbox, code).status == "timeout"


def test_sleeping_an_hour_is_stopped(sandbox):
    assert hostile(sandbox, "import time\ntime.sleep(3600)").status == "timeout"


def test_huge_string_hits_the_memory_limit(sandbox):
    assert hostile(sandbox, "x = ' ' * 10**10").status == "memory"


def test_fork_bomb_is_bounded(sandbox):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result = hostile(sandbox, code)
    assert result.status in ("timeout", "error")


def test_daemonised_child_does_not_survive(sandbox):
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.execvp('sleep', ['sleep', '4321'])\n"
        "    os._exit(0)\n"
        "time.sleep(0.2)\nprint('parent done')\n"
    )
    assert hostile(sandbox, code).stdout == "parent done\n"


def test_two_gigabyte_file_is_refused(sandbox):
    code = "with open('big', 'wb') as f:\n    for _ in range(2048):\n        f.write(b'0' * 1024 * 1024)\n"
    result = hostile(sandbox, code)
    assert result.status != "ok"
    assert "File too large" in result.stderr or "No space" in result.stderr


def test_every_writable_place_is_capped(sandbox):
    """Many files under the file-size limit: the root and /dev refuse them, /tmp and /work fill their caps."""
    code = (
        "import os\n"
        "for place in ['/', '/dev', '/dev/shm', '/code', '/usr', '/tmp', '/work']:\n"
        "    written = 0\n"
        "    try:\n"
        "        for i in range(40):\n"
        "            with open(os.path.join(place, f'fill{i}'), 'wb') as f:\n"
        "                f.write(b'0' * 3 * 1024 * 1024)\n"
        "            written += 3\n"
        "    except OSError as exc:\n"
        "        pass\n"
        "    print(place, written)\n"
    )
    result = hostile(sandbox, code)
    written = dict(line.split() for line in result.stdout.splitlines())
    assert {place: int(written[place]) for place in ("/", "/dev", "/dev/shm", "/code", "/usr")} == dict.fromkeys(
        ("/", "/dev", "/dev/shm", "/code", "/usr"), 0)
    assert int(written["/tmp"]) <= 16 and int(written["/work"]) <= 64


def test_printing_100_megabytes_is_capped(sandbox):
    result = hostile(sandbox, "import sys\nsys.stdout.write('x' * (100 * 1024 * 1024))")
    assert result.status == "output-truncated"
    assert len(result.stdout) <= LIMITS.output_bytes


def test_cannot_reach_a_host_listener(sandbox):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        code = ("import socket\ntry:\n"
                f"    socket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'pwned')\n"
                "    print('connected')\nexcept OSError as e:\n    print('refused', e)\n")
        result = hostile(sandbox, code)
        assert result.stdout.startswith("refused")
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()


def test_dns_does_not_resolve(sandbox):
    code = ("import socket\ntry:\n    print(socket.getaddrinfo('pypi.org', 443))\n"
            "except OSError as e:\n    print('no dns', type(e).__name__)\n")
    assert hostile(sandbox, code).stdout.startswith("no dns")


def test_cannot_read_ssh_keys_or_the_parent_environment(sandbox, tmp_path, monkeypatch):
    secret = f"SECRET-{uuid.uuid4().hex}"
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(secret)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PONDER_CANARY_TOKEN", secret)
    code = (
        "import os, glob\n"
        f"for path in [os.path.expanduser('~/.ssh/id_rsa'), {str(home / '.ssh' / 'id_rsa')!r}]:\n"
        "    try:\n        print(open(path).read())\n    except OSError as e:\n        print('no', e.errno)\n"
        "print(dict(os.environ))\n"
        "for p in glob.glob('/proc/*/environ'):\n"
        "    try:\n        print(open(p, 'rb').read())\n    except OSError:\n        pass\n"
        f"print(os.path.exists({str(home)!r}))\n"
    )
    result = hostile(sandbox, code)
    assert secret not in result.stdout + result.stderr
    assert result.stdout.strip().endswith("False")


def test_cannot_write_host_tmp_or_home(sandbox, tmp_path, monkeypatch):
    name = f"ponder-canary-{uuid.uuid4().hex}"
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    code = (
        "import os\n"
        f"for path in ['/tmp/{name}', os.path.expanduser('~/{name}'), {str(home / name)!r}]:\n"
        "    try:\n        open(path, 'w').write('x')\n    except OSError as e:\n        print('no', e.errno)\n"
    )
    hostile(sandbox, code)
    assert not Path(f"/tmp/{name}").exists()
    assert not (home / name).exists()


def test_cannot_open_the_model_file_or_trace_directory(sandbox, tmp_path, ponder_dirs):
    from ponder import paths

    traces = paths.trace_dir()
    traces.mkdir(parents=True, exist_ok=True)
    (traces / "run.jsonl").write_text("secret trace")
    model = paths.cache_dir() / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    code = (
        f"for path in [{str(model)!r}, {str(traces / 'run.jsonl')!r}]:\n"
        "    try:\n        print(open(path, 'rb').read(4))\n    except OSError as e:\n        print('no', e.errno)\n"
        f"import os\ntry:\n    print(os.listdir({str(traces)!r}))\nexcept OSError as e:\n    print('no', e.errno)\n"
    )
    result = hostile(sandbox, code)
    assert result.stdout.splitlines() == ["no 2", "no 2", "no 2"]


def test_tiocsti_cannot_inject_into_a_terminal(sandbox):
    code = (
        "import fcntl, termios\n"
        "for target in (0, 1, 2, '/dev/tty'):\n"
        "    try:\n"
        "        fd = target if isinstance(target, int) else open(target, 'wb').fileno()\n"
        "        fcntl.ioctl(fd, termios.TIOCSTI, b'x')\n"
        "        print('injected', target)\n"
        "    except OSError as e:\n"
        "        print('no', target)\n"
    )
    assert "injected" not in hostile(sandbox, code).stdout


@pytest.mark.parametrize(
    "claim",
    [
        "__import__('os').system('touch /tmp/pwned')",
        "x.__class__",
        "(lambda: 1)()",
        "[y for y in (1, 2)]",
        "'abc' == 'abc'",
        "x[0]",
        "10**10**10",
        "+".join(["1"] * 20000),
        "(" * 2000 + "1" + ")" * 2000,
        "9" * 5000 + " == 1",
        "factorial(10**50)",
    ],
    ids=["import", "dunder", "lambda", "comprehension", "string", "subscript", "tower",
         "sum20000", "parens2000", "digits5000", "factorial"],
)
def test_hostile_sympy_claims(sandbox, claim):
    start = time.monotonic()
    result = run_check(claim, sandbox)
    assert time.monotonic() - start <= WALL + 1.0
    assert result.status in ("refused", "timeout", "error"), result
    assert not Path("/tmp/pwned").exists()
    assert sandbox_processes() == []
    assert run_check("16 - 3 - 4 == 9", sandbox).status == "true"


NESTED_NAMESPACE = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "print(libc.unshare(0x10000000 | 0x20000))\n"  # CLONE_NEWUSER | CLONE_NEWNS
)


def test_code_cannot_make_a_user_namespace_of_its_own(sandbox):
    """A user namespace of its own would let it mount a tmpfs with no size cap over /tmp."""
    assert hostile(sandbox, NESTED_NAMESPACE).stdout == "-1\n"


needs_cgroups = pytest.mark.skipif(os.geteuid() != 0, reason="the memory cgroup is made for root runs")


@needs_cgroups
def test_memory_is_bounded_across_processes(sandbox):
    """Each process stays under its address-space limit; together they may not pass the cgroup's."""
    code = (
        "import os, time\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        block = bytearray(300 << 20)\n"
        "        block[::4096] = b'1' * len(block[::4096])\n"
        "        time.sleep(0.5)\n"
        "        os._exit(0)\n"
        "print([os.wait()[1] for _ in range(3)])\n"
    )
    result = hostile(sandbox, code)
    assert result.status == "memory"
    assert "9" in result.stdout  # a child the OOM killer ended (wait status 9: SIGKILL)


@needs_cgroups
def test_memory_files_count_against_the_memory_bound(sandbox):
    """memfd pages are in no process's address space; the cgroup charges them all the same."""
    code = (
        "import os\n"
        "files = []\n"
        "for _ in range(60):\n"
        "    fd = os.memfd_create('x')\n"
        "    os.write(fd, b'q' * (15 << 20))\n"
        "    files.append(fd)\n"
        "print('held', 15 * len(files), 'MiB')\n"
    )
    result = hostile(sandbox, code)
    assert result.status == "memory" and "held" not in result.stdout


@needs_cgroups
def test_what_a_killed_ponder_left_is_swept(tmp_path):
    """Scratch directories and cgroups carry their ponder's pid; a later process removes the
    dead's once they are an hour old (the cgroup only when empty: the sweep kills nothing)."""
    import subprocess
    import tempfile

    from ponder.tools import sandbox as sandbox_module

    gone = subprocess.Popen(["true"])
    gone.wait()
    scratch = Path(tempfile.gettempdir()) / f"{sandbox_module.SCRATCH_PREFIX}{gone.pid}-left"
    fresh = Path(tempfile.gettempdir()) / f"{sandbox_module.SCRATCH_PREFIX}{gone.pid}-fresh"
    (scratch / "work").mkdir(parents=True)
    fresh.mkdir()
    hour_ago = time.time() - sandbox_module.SWEEP_AGE - 60
    os.utime(scratch, (hour_ago, hour_ago))
    cgroup = Path("/sys/fs/cgroup/pids") / f"ponder-{gone.pid}-1"
    made_cgroup = cgroup.parent.is_dir() and not cgroup.exists()
    if made_cgroup:
        cgroup.mkdir()
        os.utime(cgroup, (hour_ago, hour_ago))
    ours = Path(tempfile.gettempdir()) / f"{sandbox_module.SCRATCH_PREFIX}{os.getpid()}-alive"
    ours.mkdir()
    os.utime(ours, (hour_ago, hour_ago))
    try:
        sandbox_module._sweep_once.cache_clear()
        assert Sandbox("auto", LIMITS).run("print(2)").stdout == "2\n"
        assert not scratch.exists() and ours.exists() and fresh.exists()
        assert not (made_cgroup and cgroup.exists())
    finally:
        ours.rmdir()
        fresh.rmdir()


def test_a_flood_on_stderr_does_not_make_a_good_run_truncated(sandbox):
    result = hostile(sandbox, "import sys\nsys.stderr.write('x' * 200000)\nprint(42)\n")
    assert result.status == "ok" and result.stdout == "42\n"


def test_output_is_on_pipes_no_host_file_the_code_could_chmod_or_grow(sandbox):
    """A file the run wrote into could be made setuid (the sandbox's user owns it, as root) or
    grown past every cap with fallocate(KEEP_SIZE); pipes are neither."""
    code = (
        "import ctypes, os, stat\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "for fd in (1, 2):\n"
        "    kept = libc.fallocate(fd, 1, 0, ctypes.c_long(64 << 20))\n"  # FALLOC_FL_KEEP_SIZE
        "    print(fd, stat.S_ISFIFO(os.fstat(fd).st_mode), kept)\n"
        "    try:\n"
        "        os.fchmod(fd, 0o4755)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    assert hostile(sandbox, code).stdout.splitlines() == ["1 True -1", "2 True -1"]


def test_no_host_device_node_or_sysctl_can_be_changed(sandbox):
    """As root the sandbox's user owns the host's root files: /dev/null's mode (set to what it
    is, so nothing changes if this fails) and the sysctls must be out of its reach."""
    code = (
        "import os\n"
        "for path in ('/dev/null', '/dev/urandom'):\n"
        "    try:\n"
        "        os.chmod(path, 0o666)\n"
        "        print('changed', path)\n"
        "    except OSError:\n"
        "        print('no', path)\n"
        "for path in ('/proc/sys/kernel/core_pattern', '/proc/sys/fs/lease-break-time'):\n"
        "    try:\n"
        "        os.close(os.open(path, os.O_WRONLY))\n"
        "        print('writable', path)\n"
        "    except OSError:\n"
        "        print('no', path)\n"
        "for root, dirs, files in os.walk('/proc'):\n"  # every kernel knob: IRQ affinity, PCI config, ...
        "    if root.split('/')[2:3] and (root.split('/')[2].isdigit() or root.split('/')[2] in ('self', 'thread-self')):\n"
        "        dirs[:] = []\n"
        "        continue\n"
        "    for name in files:\n"
        "        try:\n"
        "            os.close(os.open(os.path.join(root, name), os.O_WRONLY | os.O_NONBLOCK))\n"
        "            print('writable', os.path.join(root, name))\n"
        "        except OSError:\n"
        "            pass\n"
    )
    result = hostile(sandbox, code)
    assert result.status == "ok" and result.stdout.splitlines() == [
        "no /dev/null", "no /dev/urandom", "no /proc/sys/kernel/core_pattern", "no /proc/sys/fs/lease-break-time"]


def test_a_flood_on_one_pipe_stops_the_run_whatever_the_other_pipe_does():
    limits = Limits(wall_seconds=WALL, cpu_seconds=2, file_bytes=1 << 20)
    code = (
        "import os, sys, time\n"
        "os.write(2, b'e' * (2 << 20))\n"
        "os.close(2)\n"
        "for _ in range(150):\n"
        "    print('o', flush=True)\n"
        "    time.sleep(0.01)\n"
    )
    result = Sandbox("auto", limits).run(code)
    assert result.status == "output-truncated" and result.exit_code != 0
