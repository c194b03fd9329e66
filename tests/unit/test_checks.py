"""Judging a verify step: a pass must be evidence (issue 15 item 7)."""

import pytest

from ponder.agent.engine.checks import judge_check
from ponder.tools.answers import extract_answer
from ponder.tools.sandbox import Result
from ponder.tools.sympy_check import CheckResult


def ran(stdout: str, status: str = "ok") -> Result:
    return Result(status, stdout, "", 0 if status == "ok" else 1, 0.01, "bwrap")


NINE = extract_answer("9")


@pytest.mark.parametrize("stdout", ["", "\n\n", "# only a comment ran\n", "done\n"])
def test_code_that_printed_no_value_is_no_check(stdout):
    report = judge_check([ran(stdout)], [], NINE)
    assert report.outcome == "none"
    assert "nothing was checked" in report.verdict


def test_code_with_no_candidate_to_compare_is_no_check():
    assert judge_check([ran("9\n")], [], None).outcome == "none"


def test_a_printed_value_that_agrees_passes_and_one_that_differs_fails():
    assert judge_check([ran("9\n")], [], NINE).outcome == "pass"
    report = judge_check([ran("11\n")], [], NINE)
    assert report.outcome == "fail" and report.computed.normalized == "11"


def test_a_claim_that_holds_passes_even_when_the_code_printed_nothing():
    report = judge_check([ran("")], [CheckResult("2+2 == 4", "true", "")], NINE)
    assert report.outcome == "pass"


def test_a_block_reopened_after_the_lead_runs_its_code():
    from ponder.thought_factors.parsing import python_blocks

    lead_then_model = "```python\n# Compute the answer again:\n```python\nprint(17 * 23)\n```\n"
    assert python_blocks(lead_then_model) == ["# Compute the answer again:\nprint(17 * 23)"]
    assert python_blocks("```python\nprint(1)\n```\n\n```python\nprint(2)\n```") == ["print(1)", "print(2)"]
