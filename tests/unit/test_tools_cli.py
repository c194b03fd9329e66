"""`ponder tools python|check` as processes, on the real sandbox."""

import json

import pytest

from tests.cli_helpers import ponder


@pytest.mark.bwrap
def test_python_from_stdin_prints_json():
    done = ponder("tools", "python", "-", stdin="print(2 ** 10)")
    result = json.loads(done.stdout)
    assert done.returncode == 0 and result["stdout"] == "1024\n" and result["isolation"] == "bwrap"


def test_python_from_a_file_with_limits(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text("import time\ntime.sleep(60)")
    done = ponder("tools", "python", str(script), "--timeout", "0.5")
    assert done.returncode == 1 and json.loads(done.stdout)["status"] == "timeout"


def test_missing_file_is_a_usage_error(tmp_path):
    done = ponder("tools", "python", str(tmp_path / "none.py"))
    assert done.returncode == 2 and done.stderr.startswith(b"ponder: error: program ")
    assert done.stderr.endswith(b"none.py: not found\n")


def test_the_program_is_bounded_and_utf8_without_bom(tmp_path):
    big = ponder("tools", "python", "-", stdin=b"#" * (1024 * 1024 + 1))
    assert big.returncode == 2 and big.stderr == b"ponder: error: program on stdin is larger than 1 MiB; refusing to read it\n"
    bad = tmp_path / "bad.py"
    bad.write_bytes(b"print('\xff')")
    assert ponder("tools", "python", str(bad)).stderr.endswith(b"is not valid UTF-8\n")
    done = ponder("tools", "python", "-", stdin=b"\xef\xbb\xbfprint(6 * 7)")
    assert done.returncode == 0 and json.loads(done.stdout)["stdout"] == "42\n"


def test_check_exit_codes():
    assert ponder("tools", "check", "16 - 3 - 4 == 9").returncode == 0
    false = ponder("tools", "check", "16 - 3 - 4 = 11")
    assert false.returncode == 1 and json.loads(false.stdout)["detail"] == "left side 9, right side 11"
    solved = ponder("tools", "check", "solve(2*x + 3 = 11, x)")
    assert solved.returncode == 0 and json.loads(solved.stdout)["detail"] == "[4]"
    assert ponder("tools", "check", "__import__('os')").returncode == 2


@pytest.mark.parametrize("signum, code", [(2, 130), (15, 143)])
def test_an_interrupt_no_command_catches_still_says_so_in_one_line(tmp_path, signum, code):
    import signal
    import subprocess
    import time

    from tests.cli_helpers import PONDER

    script = tmp_path / "slow.py"
    script.write_text("import time\ntime.sleep(60)")
    proc = subprocess.Popen([*PONDER, "tools", "python", str(script), "--timeout", "30"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signum, signal.SIG_DFL))
    time.sleep(2)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code and err == b"ponder: interrupted\n"
