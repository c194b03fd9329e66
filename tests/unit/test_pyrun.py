"""The interim child-process runner: it runs code elsewhere, limits it, and kills it."""

import os

from ponder.tools.pyrun import Limits, run_python


def test_prints_come_back():
    result = run_python("print(16 - 3 - 4)")
    assert result.ok and result.stdout.strip() == "9" and result.exit_code == 0


def test_exceptions_are_errors_with_stderr():
    result = run_python("raise ValueError('boom')")
    assert result.status == "error" and "ValueError: boom" in result.stderr


def test_infinite_loop_is_killed_at_the_wall_limit():
    result = run_python("while True: pass", Limits(wall_seconds=1.0, cpu_seconds=10))
    assert result.status == "timeout" and result.seconds < 3


def test_sleep_is_killed_at_the_wall_limit():
    result = run_python("import time; time.sleep(3600)", Limits(wall_seconds=1.0))
    assert result.status == "timeout" and result.seconds < 3


def test_output_is_capped():
    result = run_python("print('x' * 10_000_000)", Limits(output_bytes=1000))
    assert result.status == "output-truncated" and len(result.stdout) <= 1000


def test_memory_is_limited():
    result = run_python("x = ' ' * (2 * 1024**3)", Limits(memory_bytes=256 * 1024 * 1024))
    assert result.status == "memory"


def test_environment_is_cleared(monkeypatch):
    monkeypatch.setenv("PONDER_SECRET_CANARY", "leak")
    result = run_python("import os; print(sorted(os.environ))")
    assert "PONDER_SECRET_CANARY" not in result.stdout


def test_runs_in_a_throwaway_directory():
    result = run_python("import os; print(os.getcwd())")
    assert result.stdout.strip() != os.getcwd()
    assert not os.path.exists(result.stdout.strip())


def test_a_daemonised_child_dies_with_the_group(tmp_path):
    marker = tmp_path / "alive"
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    time.sleep(2)\n"
        f"    open({str(marker)!r}, 'w').write('still here')\n"
        "    os._exit(0)\n"
        "time.sleep(3600)\n"
    )
    result = run_python(code, Limits(wall_seconds=0.5))
    assert result.status == "timeout"
    import time

    time.sleep(2.5)
    assert not marker.exists()
