"""How a finished run's exit, output and stderr become its status (no process runs here)."""

import signal

import pytest

from ponder.tools.sandbox import Sandbox, _status

TRACEBACK = 'Traceback (most recent call last):\n  File "main.py", line 1, in <module>\n'


@pytest.mark.parametrize("exit_code, status", [
    (-signal.SIGXCPU, "timeout"), (128 + signal.SIGXCPU, "timeout"),
    (-signal.SIGXFSZ, "output-truncated"), (128 + signal.SIGXFSZ, "output-truncated"),
    (signal.SIGXCPU, "error"), (signal.SIGXFSZ, "error"), (1, "error"), (0, "ok"),
])
def test_a_signal_is_negative_or_128_plus_it_and_an_exit_code_is_its_own(exit_code, status):
    assert _status(exit_code, False, False, "") == status


def test_memory_is_the_exception_a_failed_run_ended_on():
    assert _status(1, False, False, TRACEBACK + "MemoryError\n") == "memory"
    assert _status(1, False, False, TRACEBACK + "ValueError: no MemoryError here\n") == "error"


def test_a_run_that_only_says_memoryerror_and_succeeds_is_ok():
    assert _status(0, False, False, "MemoryError is just a word\n") == "ok"


def test_the_oom_killer_is_memory_whatever_the_exit():
    assert _status(-signal.SIGKILL, False, False, "", oom=True) == "memory"


def test_a_lone_surrogate_in_the_code_is_a_result_not_an_exception():
    """A server's JSON may carry one (json.loads keeps a lone \\ud800)."""
    assert Sandbox("auto").run("print(1)  # \ud800").stdout == "1\n"
