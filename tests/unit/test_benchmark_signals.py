"""The signals of `benchmarks/quality_signals.py`: a program that leaves out a given number, a
chain that states no answer; model code is tokenized, never run."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import quality_signals  # noqa: E402

HEIGHT = "What is 5 feet 8 inches in centimeters?"


def program(code: str) -> dict:
    return {"route": "program", "answer": "1", "text": "```python\n" + code}


def test_a_program_that_leaves_out_a_given_number_is_flagged():
    assert quality_signals.leaves_out(HEIGHT, program("print(5 * 12 * 2.54)\n"))
    assert not quality_signals.leaves_out(HEIGHT, program("print((5 * 12 + 8) * 2.54)\n"))


def test_a_percent_written_as_a_fraction_and_an_implicit_two_count_as_used():
    question = "A $1,250 bike is 20% off for 2 days. What does it cost?"
    assert not quality_signals.leaves_out(question, program("print(1250 * (1 - 0.2))\n"))


def test_a_number_in_a_comment_or_a_string_is_no_use_of_it():
    assert quality_signals.leaves_out(HEIGHT, program("# 8 inches\nprint(5 * 12 * 2.54, '8')\n"))


def test_code_that_does_not_tokenize_and_a_route_with_no_answer_are_never_flagged():
    assert not quality_signals.leaves_out(HEIGHT, program("print((5 * 12\n"))
    assert not quality_signals.leaves_out(HEIGHT, {**program("print(5)\n"), "answer": ""})


def test_a_chain_is_unstated_when_it_boxes_nothing_and_says_no_answer():
    cut = {"route": "reason", "answer": "22", "text": "21. 28 / 20 is 1.4.\n22. **Check if"}
    boxed = {"route": "reason", "answer": "28", "text": "So the factors sum to \\boxed{28}."}
    assert quality_signals.unstated(cut) and not quality_signals.unstated(boxed)
