import json
from pathlib import Path

import pytest

from ponder.tools.questions import (asks_for_each, asks_for_solutions, asks_how_long, asks_which_number, asks_which_or_what,
                                    asks_yes_or_no, expects_number, has_algebra, offered_numbers)


def test_a_question_for_a_quantity_expects_a_number():
    assert expects_number("How many apples does Tom have left?")
    assert expects_number("What is the total cost of the pens?")
    assert not expects_number("Which planet is largest?")


def test_no_gsm8k_training_question_triggers_a_rule_beyond_the_measured_default():
    data = Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k_train.jsonl"
    if not data.exists():
        pytest.skip("the shared GSM8K training file is not beside this checkout")
    questions = [json.loads(line)["question"] for line in data.read_text().splitlines()]
    assert asks_for_solutions("Solve x^2 - 5x + 6 = 0") and not any(map(asks_for_solutions, questions))
    assert has_algebra("What is the integral of 2x?") and not any(map(has_algebra, questions))
    assert asks_yes_or_no("Is 97 prime?") and not any(map(asks_yes_or_no, questions))
    assert asks_which_number("Which is larger, 3/7 or 5/11?") and not any(map(asks_which_number, questions))


@pytest.mark.parametrize(
    "question, algebra",
    [("Simplify (x^2 - 1)/(x - 1)", True), ("Solve for x: 3x + 7 = 22", True), ("Expand (x+1)^2", True),
     ("What is the integral of 2x?", True), ("Find y if 2*y = 8", True),
     ("John buys 3 reels of 100m fishing line.", False), ("Every 750m^2 of land", False),
     ("Mike has to get an x-ray.", False), ("What is 3 x 4?", False)],
)
def test_a_formula_in_x_y_or_z_is_algebra_and_a_unit_or_a_word_is_not(question, algebra):
    assert has_algebra(question) is algebra


@pytest.mark.parametrize(
    "question, asks",
    [("Is 97 a prime number?", True), ("Does 12 divide 144?", True), ("Can you add 3 and 4?", False),
     ("Will has 16 fish. Is that more than 10? How many fish does he have?", False),
     ("Is the total cost more than $5? How much is it?", False)],
)
def test_a_question_asks_yes_or_no_only_in_one_sentence_that_opens_with_its_verb(question, asks):
    assert asks_yes_or_no(question) is asks


@pytest.mark.parametrize(
    "question, asks",
    [("Which is larger, 3/7 or 5/11?", True), ("Which is bigger: 0.5 or 0.45?", True), ("What is 17 * 23?", True),
     ("Tom has 3.5 apples. How many does he have?", True), ("Who is taller, Ann or Bob?", True),
     ("Is 91 prime?", False), ("Tell me whether 91 is prime.", False), ("Determine if 91 is prime.", False),
     ("What do you think: is 91 prime?", False), ("What is 2 + 2? Is it 4?", False)],
)
def test_a_question_asks_which_or_what_when_its_last_sentence_opens_with_a_question_word(question, asks):
    assert asks_which_or_what(question) is asks


@pytest.mark.parametrize(
    "question, asks",
    [("Which is larger, 3/7 or 5/11?", True), ("Which is bigger: 0.5 or 0.45?", True),
     ("Which is cheaper, $3.50 or $3.05?", True), ("Which is larger, 40% or 0.35?", True),
     ("Which planet is larger, Mars or Venus?", False), ("What is 3 or 4?", False),
     ("Which is larger, 3/7 or 5/11? Explain.", False)],
)
def test_a_question_asks_which_number_when_it_ends_choosing_between_two(question, asks):
    assert asks_which_number(question) is asks


@pytest.mark.parametrize("question, asks", [
    ("A train leaves at 14:35 and arrives at 17:10. How long is the journey?", True),
    ("How much time did she spend reading?", True),
    ("It took 3 hours. how long did the second part take, in minutes?", True),
    ("The train leaves at 9:45 and takes 2 hours. When does it arrive?", False),
    ("How many minutes are there in a week?", False),
])
def test_a_question_asks_how_long_when_its_last_question_asks_for_a_length_of_time(question, asks):
    assert asks_how_long(question) is asks


@pytest.mark.parametrize("question, offered", [
    ("Which is smaller, 0.125 or 1/9?", ("0.125", "1/9")),
    ("Which is greater, -3 or -7?", ("-3", "-7")),
    ("Which costs less, $3 or $5?", ("$3", "$5")),
    ("What is larger, 3/7 or 5/11?", ()),  # asks what, not which
    ("Tom has 3 apples and Ann 5. Which of them has more?", ()),
])
def test_the_offered_numbers_are_the_two_a_which_question_names_as_written(question, offered):
    assert offered_numbers(question) == offered


@pytest.mark.parametrize("question, asks", [
    ("Tom and Ann share $100 in the ratio 2:3. How much does each get?", True),
    ("How old are they both?", True),
    ("What are their ages, respectively?", True),
    ("How many beetles are eaten each day?", False),  # a rate, not one amount per person
    ("Each box holds 3 pens. How many boxes are needed for 12 pens?", False),  # "each" outside the ask
    ("How much does each cost? Show your work.", False),  # the last sentence asks nothing
])
def test_a_question_asks_for_each_when_its_last_question_asks_for_an_amount_per_person(question, asks):
    assert asks_for_each(question) is asks
