"""The import a program forgot, read from its NameError; nothing else is repaired."""

import pytest

from ponder.tools.imports import IMPORTS, missing_import, with_import

TRACEBACK = 'Traceback (most recent call last):\n  File "main.py", line 4, in <module>\n'


@pytest.mark.parametrize("name, line", [
    ("gcd", "from math import gcd"), ("math", "import math"), ("Fraction", "from fractions import Fraction"),
    ("combinations", "from itertools import combinations"), ("sp", "import sympy as sp"),
    ("isprime", "from sympy import isprime"), ("mean", "from statistics import mean"),
])
def test_a_name_error_for_a_standard_name_asks_for_its_import(name, line):
    assert missing_import(f"{TRACEBACK}NameError: name '{name}' is not defined\n") == line


def test_the_interpreters_suggestion_after_the_name_is_no_obstacle():
    stderr = f"{TRACEBACK}NameError: name 'math' is not defined. Did you forget to import 'math'?\n"
    assert missing_import(stderr) == "import math"


@pytest.mark.parametrize("stderr", [
    f"{TRACEBACK}NameError: name 'Kramer_time' is not defined. Did you mean: 'kramer_time'?",  # the program's own slip
    f"{TRACEBACK}ZeroDivisionError: division by zero",
    "NameError: name 'gcd' is not defined\nValueError: later",  # only the last line counts
    "", "   \n",
    "NameError: name 'os' is not defined",  # not in the table: no way out of the sandbox's rules by a repair
    "NameError: name 'e' is not defined",  # one letter: maybe the program's own slip, never math.e
])
def test_any_other_error_asks_for_nothing(stderr):
    assert missing_import(stderr) is None


def test_every_repair_is_one_import_line_of_a_plain_name():
    for name, line in IMPORTS.items():
        assert name.isidentifier() and len(name) > 1 and "\n" not in line and line.split()[0] in ("import", "from")
        assert line.endswith(name) or line == f"import sympy as {name}"


def test_the_import_goes_before_the_code_and_changes_nothing_else():
    code = "print(gcd(4, 6))\n"
    assert with_import(code, "from math import gcd") == "from math import gcd\nprint(gcd(4, 6))\n"


def test_a_program_that_timed_out_is_not_run_again_whatever_its_stderr_says():
    """A forged NameError line before a sleep would otherwise buy it four wall limits."""
    from ponder.agent.engine.ids import SpanIds
    from ponder.agent.engine.programs import run_program
    from ponder.tools.sandbox import Result

    class Timing:
        runs = 0

        def run(self, code):
            self.runs += 1
            return Result("timeout", "", "NameError: name 'math' is not defined\n", None, 5.0, "bwrap")

    sandbox = Timing()
    work = run_program(sandbox, "import time\ntime.sleep(60)\n", "run", "span", SpanIds())
    while True:
        try:
            next(work)
        except StopIteration as stop:
            assert stop.value.status == "timeout"
            break
    assert sandbox.runs == 1
