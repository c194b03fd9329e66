"""The arithmetic-line reader of `benchmarks/quality_arith.py`: real slips flagged, nothing else."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import quality_arith  # noqa: E402


def slips(text: str) -> list[str]:
    return [f"{c.expression} = {c.shown}" for c in quality_arith.false_claims({"route": "reason", "text": text})]


def test_a_wrong_sum_in_latex_is_flagged():
    assert slips(r"\text{Total cost} = \$45 + \$16 + \$18 = \$89") == ["45 + 16 + 18 = 89"]


def test_products_fractions_and_chained_equalities_are_read():
    text = "\\[ 15,000 \\times 3 = 45,000 \\text{ dollars} \\times 4 = 135,000 \\]\n\\frac{35}{5} = 8\n\\frac{10 + 2}{4} = 3"
    assert slips(text) == ["45,000 * 4 = 135000", "35/5 = 8"]


@pytest.mark.parametrize("line", [
    "16 - 3 = 13, and 13 - 4 = 9.",
    r"\frac{35}{3} = 11.67",  # rounded
    "35 / 3 = 11 whole tickets",  # cut to a whole number
    r"3x + 38 + 62 = 3x + 100",  # a variable beside the arithmetic
    r"\( 2(M - 1) + 1 = 2M \)",
    r"3 \times 96 = 12 \times x",  # the right side is not a lone number
    "- 300 + 150 = 450",  # a bullet, not a minus
    r"\frac{3}{3} : \frac{12}{3} = 1:4",  # a ratio
    "20% of 50 = 12",  # percent: skipped
    "**Step 2:** 5 + 5 = 11",  # markdown bold: the line is skipped
])
def test_true_or_unreadable_lines_are_not_flagged(line):
    assert slips(line) == []


def test_a_program_is_never_flagged():
    assert quality_arith.false_claims({"route": "program", "text": "print(2 + 2)  # 2 + 2 = 5"}) == []


def test_the_answer_is_repaired_only_when_it_is_the_slip():
    row = {"route": "reason", "text": "45 + 16 + 18 = 89\nSo \\boxed{89}", "answer": "89", "reference": "79",
           "correct": False}
    assert quality_arith.repaired(row)["answer"] == "79" and quality_arith.repaired(row)["correct"]
    later = {**row, "text": "45 + 16 + 18 = 89\n89 * 2 = 178", "answer": "178"}
    assert quality_arith.repaired(later) == later
