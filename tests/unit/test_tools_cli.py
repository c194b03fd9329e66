"""`ponder tools python|check` as processes, on the real sandbox."""

import json

from tests.cli_helpers import ponder


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
    assert done.returncode == 2 and done.stderr.startswith(b"ponder: error: cannot read")


def test_check_exit_codes():
    assert ponder("tools", "check", "16 - 3 - 4 == 9").returncode == 0
    false = ponder("tools", "check", "16 - 3 - 4 = 11")
    assert false.returncode == 1 and json.loads(false.stdout)["detail"] == "left side 9, right side 11"
    solved = ponder("tools", "check", "solve(2*x + 3 = 11, x)")
    assert solved.returncode == 0 and json.loads(solved.stdout)["detail"] == "[4]"
    assert ponder("tools", "check", "__import__('os')").returncode == 2
