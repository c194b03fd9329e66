"""A system's solution is one ordered tuple however it is written; roots of one equation are not."""

import pytest

from ponder.tools.answers import equivalent, extract_answer, printed_answer
from ponder.tools.tuples import ordered_values

SYSTEM = "Solve the system x + y = 10 and x - y = 4."


@pytest.mark.parametrize("text,values", [
    ("x = 7, y = 3", ["7", "3"]), ("y = 3 and x = 7", ["7", "3"]), ("x=7; y=3", ["7", "3"]),
    ("{x: 7, y: 3}", ["7", "3"]), ("{y: 3, x: 7}", ["7", "3"]), ("{'x': 7, \"y\": 3}", ["7", "3"]), ("[{x: 7, y: 3}]", ["7", "3"]),
    ("(x, y) = (7, 3)", ["7", "3"]), ("(7, 3)", ["7", "3"]), ("[(7, 3)]", ["7", "3"]), ("{(7, 3)}", ["7", "3"]),
    ("(sqrt(2), f(1, 2))", ["sqrt(2)", "f(1, 2)"]), ("a = 1,000, b = 2", ["1,000", "2"]),
])
def test_a_solution_of_two_variables_or_a_point_is_an_ordered_tuple(text, values):
    assert ordered_values(text) == values


@pytest.mark.parametrize("text", [
    "x = 2 or x = 3", "x_1 = 2, x_2 = 3", "x1 = 2 and x2 = 3", "{x: 7}", "x = 5", "[2, 3]", "{2, 3}",
    "(x+1)(x-1)", "(7)", "x <= 7, y = 3", "x = 7, x = 3", "(x, y) = (7, 3, 1)", "x = 1 band y = 2", "",
    "(" * 400 + ")" * 400,
])
def test_roots_of_one_equation_one_value_or_no_tuple_is_not_a_tuple(text):
    assert ordered_values(text) is None


@pytest.mark.parametrize("chain", ["\\boxed{(7, 3)}", "\\boxed{x = 7, y = 3}", "So x = 7 and y = 3.\n\\boxed{(x, y) = (7, 3)}"])
@pytest.mark.parametrize("stdout", ["{x: 7, y: 3}\n", "[{x: 7, y: 3}]\n", "x = 7\ny = 3\n", "(7, 3)\n", "{y: 3.0, x: 7.0}\n"])
def test_a_chains_pair_and_a_programs_printed_solution_agree(chain, stdout):
    printed = printed_answer(stdout, SYSTEM)
    assert printed.normalized == "(7,3)"
    assert equivalent(extract_answer(chain), printed)


def test_swapped_values_are_another_answer():
    assert not equivalent(extract_answer("\\boxed{x = 3, y = 7}"), printed_answer("{x: 7, y: 3}\n", SYSTEM))


def test_the_roots_a_program_prints_one_per_line_stay_a_set():
    assert printed_answer("x = 3\nx = 2\n", "Solve x^2 - 5x + 6 = 0.").normalized == "2, 3"
    assert printed_answer("3.0\n2.0\n", "Solve x^2 - 5x + 6 = 0.").normalized == "2, 3"
