import pytest

from ponder.tools.answers import answer_from_step, as_asked, equivalent, extract_answer, normalize_answer, printed_answer


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<answer>18</answer>", "18"),
        ("so \\boxed{\\frac{3}{4}} is it", "0.75"),
        ("ANSWER: $1,200.50", "1200.5"),
        ("Therefore the answer is 42 apples.", "42"),
        ("He has 3 left, then 5, finally 7", "7"),
        ("The final answer is: 12%", "12"),
        ("Answer: 8.00", "8"),
        ("<answer>1/3</answer>", "1/3"),
        ("<answer>−5</answer>", "-5"),
    ],
)
def test_extraction_and_normalisation(text, expected):
    assert extract_answer(text).normalized == expected


def test_nothing_to_extract():
    assert extract_answer("no digits here").kind == "none"


def test_expression_and_text_kinds():
    assert normalize_answer("x + 1").kind == "expression"
    assert normalize_answer("Paris").kind == "text"


@pytest.mark.parametrize(
    "a, b, same",
    [("18", "18.0", True), ("$1,000", "1000", True), ("0.5", "1/2", True), ("3", "4", False),
     ("Paris", "paris", True), ("", "0", False)],
)
def test_equivalence(a, b, same):
    assert equivalent(a, b) is same


@pytest.mark.parametrize(
    "step, expected",
    [("12", "12"), ("He has 12 apples left.", "12"), ("Paris", "paris"), ("x + 1", "x+1"), ("$1,200", "1200")],
)
def test_answer_from_an_answer_step(step, expected):
    from ponder.tools.answers import answer_from_step

    assert answer_from_step(step).normalized == expected


@pytest.mark.parametrize(
    "line, expected",
    [("(16*33)+(3*10)=528+30=558", "558"), ("12", "12"), ("$4.50", "4.5"), ("x + 1", "x+1"),
     ("20 - 12 = 8 dollars", "8")],
)
def test_the_value_a_line_of_working_states(line, expected):
    from ponder.tools.answers import stated_value

    assert stated_value(line).normalized == expected


@pytest.mark.parametrize(
    "text, expected",
    [("528 + 30", "558"), ("(16*33)+(3*10)", "558"), ("1/3 + 1/6", "0.5"), ("2 × 3", "6"), ("1/0", None),
     ("2**10", None), ("__import__('os')", None), ("1" + "+1" * 200, None)],
)
def test_plain_arithmetic_is_computed_without_eval(text, expected):
    from ponder.tools.answers import arithmetic_value, format_number

    value = arithmetic_value(text)
    assert (format_number(value) if value is not None else None) == expected


def test_an_answer_without_a_number_to_a_quantity_question_is_no_answer():
    from ponder.tools.answers import as_asked, normalize_answer

    assert as_asked(normalize_answer("The code failed"), "How many pens?").kind == "none"
    assert as_asked(normalize_answer("12 pens"), "How many pens?").normalized == "12"
    assert as_asked(normalize_answer("Jupiter"), "Which planet is largest?").normalized == "jupiter"


def test_a_chain_whose_answer_step_states_no_number_falls_back_to_its_candidate(think):
    from tests.unit import scripts

    says = scripts.PASSING | {"answer": "The check agrees."}
    run = think("chain", says, review=False, question="How many apples are left after 16 - 3 - 4?")
    assert run.answer == "9"


@pytest.mark.parametrize("strategy", ["chain", "vote"])
def test_an_answer_step_in_terminal_colours_answers_the_number_it_colours(think, strategy):
    from tests.unit import scripts

    says = scripts.PASSING | {"answer": "\x1b[31m9\x1b[0m"}
    run = think(strategy, says, review=False, question="How many apples are left after 16 - 3 - 4?")
    assert run.answer == "9"


@pytest.mark.parametrize(
    "a, b, same",
    [("3.91e2", "391", True), ("3.91E+2", "391.0", True), ("1e999", "1E+999", True), ("2e-3", "0.002", True),
     ("391%", "391", True), ("25 %", "25", True), ("391%", "3.91", False)],
)
def test_scientific_notation_is_a_number_and_percent_is_a_unit(a, b, same):
    assert equivalent(a, b) is same


def test_an_astronomical_exponent_is_not_a_number():
    assert normalize_answer("1e99999").kind != "number"
    assert len(normalize_answer("1e999").normalized) < 10


@pytest.mark.parametrize(
    "text, expected",
    [("False", "no"), ("True\n", "yes"), ("\\boxed{\\text{No}}", "no"), ("The answer is yes.", "yes"),
     ("\\boxed{No, 91 = 7 \\times 13}", "no"), ("Answer: Yes!", "yes")],
)
def test_a_truth_value_reads_as_yes_or_no(text, expected):
    found = extract_answer(text)
    assert (found.normalized, found.kind) == (expected, "text")


def test_only_the_word_itself_is_a_truth_value():
    assert normalize_answer("No one came").normalized == "no one came"
    assert normalize_answer("Yes it is").normalized == "yes it is"
    assert extract_answer("Yes, she bought 3 more, so 12 in all").normalized == "12"  # a chain's text: its last number
    assert equivalent(extract_answer("False"), extract_answer("\\boxed{\\text{No}}"))
    assert not equivalent(extract_answer("True"), "no")


@pytest.mark.parametrize(
    "text, shown",
    [("Paris", "Paris"), ("\\text{No}", "No"), ("  Red,  green and blue. ", "Red, green and blue"),
     ("No, 91 = 7 x 13", "no"), ("$1,200.50", "1200.5")],
)
def test_an_answer_is_shown_canonical_in_the_case_it_was_written(text, shown):
    from ponder.tools.answers import as_written

    assert as_written(normalize_answer(text)) == shown


@pytest.mark.parametrize(
    "text, expected, kind",
    [("3 and 2", "2, 3", "set"), ("x = 2 \\text{ or } x = 3", "2, 3", "set"), ("\\{3, 2\\}", "2, 3", "set"),
     ("x_1 = \\frac{-1}{2}, x_2 = 3", "-0.5, 3", "set"), ("1,000 and 2,000", "1000, 2000", "set"),
     ("x = 5", "5", "number"), ("2 and 2", "2", "number"), ("1,000", "1000", "number"),
     ("(3, 2)", "(3,2)", "expression"), ("2 apples and 3 pears", "2applesand3pears", "expression")],
)
def test_a_list_of_solutions_is_a_set_in_order(text, expected, kind):
    found = normalize_answer(text)
    assert (found.normalized, found.kind) == (expected, kind)
    assert normalize_answer(found.normalized).normalized == expected  # canonical forms are fixed points


def test_a_printed_list_is_a_set_and_sets_agree_whatever_their_order():
    assert extract_answer("[3.0, 2.0]").normalized == "2, 3"
    assert extract_answer("3.0 2.0").normalized == "2, 3"  # print(a, b)
    assert extract_answer("x is 2, then 3 and finally 4").normalized == "4"  # prose: its last number
    assert equivalent("3 and 2", "x = 2 or x = 3") and not equivalent("2, 3", "2, 4")
    assert not equivalent("2, 3", "(2, 3)", symbolic=lambda a, b: True)  # a set is never compared symbolically


def test_a_printed_formula_is_an_expression_and_words_around_a_number_are_not():
    assert extract_answer("3*x**2 + 2") == normalize_answer("3*x**2 + 2")
    assert extract_answer("3*x**2 + 2").kind == "expression"
    assert extract_answer("Result - 5").normalized == "5"  # a word is no variable: the last number, as before
    assert extract_answer("x_1 + sqrt(2)").kind == "expression"


@pytest.mark.parametrize(
    "a, b, same",
    [("37.78", "37.77777777777778", True), ("0.33", "1/3", True), ("-0.33", "-1/3", True),
     ("5", "5.4", False), ("2.5", "2.53", False), ("12.75", "12.76", False), ("37.78", "37.7", False),
     ("1157.63", "1157.625", True), ("1157.62", "1157.625", True), ("0.13", "0.125", True),  # half-way: either
     ("1157.64", "1157.625", False)],
)
def test_a_number_rounded_to_two_or_more_places_agrees_with_the_value_it_rounds(a, b, same):
    assert equivalent(a, b) is same and equivalent(b, a) is same


@pytest.mark.parametrize(
    "latex, expected",
    [("\\sqrt{2}", "sqrt(2)"), ("\\frac{\\sqrt{2}}{2}", "(sqrt(2))/(2)"), ("2\\pi", "2*pi"), ("\\pi", "pi"),
     ("3 \\times 4", "12"), ("5 \\cdot 3", "15"), ("x^{2} + 1", "x^(2)+1")],
)
def test_latex_becomes_the_notation_sympy_reads(latex, expected):
    assert normalize_answer(latex).normalized == expected
    assert normalize_answer(latex).kind != "text"  # never words, so the cascade never stops on one as words


HAIKU = "Autumn leaves fall,\nSilent trees whisper,\nPeace in the air."


def test_a_chain_with_no_number_to_a_question_in_words_is_its_own_answer():
    from ponder.tools.answers import as_written, chain_answer

    found = chain_answer(HAIKU, "Write a haiku about autumn.")
    assert (found.kind, found.normalized) == ("text", "autumn leaves fall, silent trees whisper, peace in the air")
    assert as_written(found) == "Autumn leaves fall,\nSilent trees whisper,\nPeace in the air"


@pytest.mark.parametrize(
    "text, question, expected",
    [("I cannot tell.", "What is 16 - 3 - 4?", ""),  # the question has numbers: it asks for one
     ("I cannot tell.", "How many legs does a spider have?", ""),  # it asks for a quantity
     ("Step 4: count the syllables.", "Write a haiku about autumn.", "step 4: count the syllables"),  # a step's number
     ("**Step 1:** pick images\n\nLeaves fall", "Write a haiku about autumn.", "step 1:** pick images leaves fall"),
     ("Here are 3 ideas.", "Write a haiku about autumn.", "3"),  # a number in a sentence is read as before
     ("Step 2: so \\boxed{4}", "Name a colour.", "4"),  # a stated answer is read as before
     ("So the answer is \\boxed{Paris}.", "What is the capital of France?", "paris"),
     ("  ", "Write a haiku about autumn.", "")],
)
def test_a_chain_answer_is_what_it_states_or_none(text, question, expected):
    from ponder.tools.answers import chain_answer

    assert chain_answer(text, question).normalized == expected


@pytest.mark.parametrize(
    "text, expected",
    [("\x1b[31m12 apples\x1b[0m", "12"), ("So the answer is \x1b[1m7\x1b[22m.", "7"),
     ("\x1b]0;title 5\x07She has 9 left.", "9"), ("Nothing here \x1b[38;5;196m", "")],
)
def test_a_terminal_escape_sequence_in_model_text_is_no_number_of_the_answer(text, expected):
    assert extract_answer(text).normalized == expected


@pytest.mark.parametrize("text", ["\x1b[31m9", "9\x1b[0m", "So 4+5 = 9 \x9b31m", "\x9d0;title 5\x9c9", "9\x1b", "\x1b]8;;http://x\x1b\\9\x1b]8;;\x1b\\"])
def test_an_answer_step_or_a_bare_answer_with_an_escape_sequence_is_the_answer_without_it(text):
    from ponder.tools.answers import answer_from_step

    assert answer_from_step(text).normalized == "9"
    assert extract_answer(text).normalized == "9"
    assert "\x1b" not in normalize_answer(text).text and "\x9b" not in normalize_answer(text).text


@pytest.mark.parametrize(
    "stdout, question, expected",
    [("3.0\n2.0\n", "Solve x^2 - 5x + 6 = 0", "2, 3"),  # the roots, one per line
     ("x1 = 3.0\nx2 = 2.0\n", "Find the roots of x**2 - 5*x + 6.", "2, 3"),
     ("The solutions are:\n3\n2\n", "Solve x^2 - 5x + 6 = 0", "2, 3"),
     ("3.0\n3.0\n", "Solve x^2 - 6x + 9 = 0", "3"),  # a double root is one value
     ("12\n9\n", "Tom has 16 apples and gives away 7. How many are left?", "9"),  # working, then the answer
     ("12\n9\n", "Solve the puzzle: how many sheep are left?", "9"),  # no equation: the last line
     ("", "Solve x^2 = 4", ""),
     ("Saturday\n", "What day of the week was 1 January 2000?", "saturday"),  # a few words are its answer
     ("Computing...\nred, blue, yellow\n", "Name the three primary colours.", "red, blue, yellow"),
     ("No valid solution with the given information.\n", "How old is Tom?", "")],  # a sentence is none
)
def test_a_program_answers_with_its_last_line_or_the_solutions_it_printed(stdout, question, expected):
    from ponder.tools.answers import printed_answer

    assert printed_answer(stdout, question).normalized == expected


@pytest.mark.parametrize(
    "answer, question, kept",
    [("97", "Is 97 a prime number?", ""), ("yes", "Is 97 a prime number?", "yes"),
     ("4", "Is 2 + 2 equal to 5?", ""), ("0.30000000000000004", "Is 0.1 + 0.2 equal to 0.3?", ""),
     ("7", "Can you add 3 and 4?", "7"),  # a request, not a yes-or-no question
     ("97", "What is the largest prime below 100?", "97"),
     ("16", "Will has 16 fish. Is that more than 10? How many fish does he have?", "16")],
)
def test_a_number_is_no_answer_to_a_yes_or_no_question(answer, question, kept):
    assert as_asked(normalize_answer(answer), question).normalized == kept


@pytest.mark.parametrize(
    "answer, question, kept",
    [("False", "Which is larger, 3/7 or 5/11?", ""), ("no", "What is 17 * 23?", ""),
     ("5/11", "Which is larger, 3/7 or 5/11?", "5/11"),
     ("No", "Is 91 a prime number?", "no"), ("False", "Tell me whether 91 is prime.", "no"),
     ("no", "What do you think: is 91 prime?", "no"), ("Paris", "What is the capital of France?", "paris")],
)
def test_yes_or_no_is_no_answer_to_a_question_asking_which_or_what(answer, question, kept):
    assert as_asked(normalize_answer(answer), question).normalized == kept


@pytest.mark.parametrize(
    "text, expected",
    [("3x^2\\sin(x)+x^3\\cos(x)", "3x^2*sin(x)+x^3*cos(x)"), ("\\cos x - x\\sin x", "cos(x)-x*sin(x)"),
     ("\\ln(x) + 1", "log(x)+1"), ("2\\left(x+1\\right)", "2(x+1)"), ("\\exp(2x)", "exp(2x)")],
)
def test_latex_functions_and_brackets_read_as_plain_formulas(text, expected):
    assert normalize_answer(text).normalized == expected


@pytest.mark.parametrize(
    "text, normalized, shown",
    [("The train arrives at 6:15 pm.", "18:15", "6:15 pm"), ("\\boxed{6:15 \\text{ PM}}", "18:15", "6:15 PM"),
     ("18 : 15\n", "18:15", "18:15"),  # print(h, ":", m)
     ("12:30 am", "0:30", "12:30 am"), ("12:05 p.m.", "12:05", "12:05 p.m"), ("at 9:00", "9:00", "9:00")],
)
def test_a_time_of_day_is_read_on_a_24_hour_clock_and_shown_as_written(text, normalized, shown):
    from ponder.tools.answers import as_written

    found = extract_answer(text)
    assert (found.kind, found.normalized, as_written(found)) == ("time", normalized, shown)


@pytest.mark.parametrize("text, expected", [("5:75pm", "75"), ("the ratio 3:2", "2"), ("She has 12 apples.", "12")])
def test_what_is_no_time_of_day_reads_as_before(text, expected):
    assert extract_answer(text).normalized == expected


@pytest.mark.parametrize("question, printed, shown", [
    ("Which is smaller, 0.125 or 1/9?", "0.1111111111111111", "1/9"),
    ("Which is greater, 5/8 or 0.6?", "0.625", "5/8"),
    ("Which is larger, 3/7 or 0.43?", "0.43", "0.43"),
    ("Which is smaller, 0.125 or 1/9?", "0.111", "0.111"),  # a rounding is no offered number
    ("What is 1/9 as a decimal?", "0.1111111111111111", "0.1111111111111111"),  # nothing offered
])
def test_a_number_a_which_question_offers_is_shown_as_the_question_writes_it(question, printed, shown):
    from ponder.tools.answers import as_written, printed_answer

    assert as_written(as_asked(printed_answer(printed + "\n", question), question)) == shown


JOURNEY = "A train leaves at 14:35 and arrives at 17:10. How long is the journey?"


@pytest.mark.parametrize("text, normalized, kind", [
    ("The journey takes \\boxed{2:35}.", "2 hours 35 minutes", "duration"),
    ("\\boxed{0:45}", "45 minutes", "duration"),
    ("\\boxed{2:35 pm}", "14:35", "time"),  # am or pm: a time of day, whatever is asked
])
def test_a_clock_to_a_question_asking_how_long_is_a_length_of_time(text, normalized, kind):
    from ponder.tools.answers import as_written, chain_answer

    found = chain_answer(text, JOURNEY)
    assert (found.normalized, found.kind) == (normalized, kind)
    if kind == "duration":
        assert as_written(found) == normalized


def test_a_clock_read_as_a_length_agrees_with_the_minutes_a_program_printed():
    from ponder.tools.answers import chain_answer, printed_answer

    chain, program = chain_answer("\\boxed{2:35}", JOURNEY), as_asked(printed_answer("155\n", JOURNEY), JOURNEY)
    assert equivalent(chain, program) and equivalent(program, chain)
    assert not equivalent(chain, as_asked(printed_answer("215\n", JOURNEY), JOURNEY))


def test_a_clock_to_a_question_asking_when_stays_a_time_of_day():
    found = as_asked(extract_answer("\\boxed{2:35}"), "It leaves at 12:00 and takes 155 minutes. When does it arrive?")
    assert (found.normalized, found.kind) == ("2:35", "time")


@pytest.mark.parametrize(
    "a, b, same",
    [("6:15 PM", "18 : 15", True), ("6:15 p.m.", "18:15", True), ("6:00 pm", "6", False),
     ("6:15", "18:15", True), ("6:15 pm", "6:15", True), ("12:30", "12:30 am", True),  # no am/pm: either half
     ("6:15 am", "18:15", False), ("6:15 am", "6:15 pm", False), ("6:15", "18:16", False), ("6:15", "6:45", False)],
)
def test_times_agree_across_clocks_and_a_time_without_am_or_pm_may_be_either_half_of_the_day(a, b, same):
    assert equivalent(a, b) is same and equivalent(b, a) is same


@pytest.mark.parametrize(
    "text, expected, kind",
    [("\\boxed{x = 1 \\pm \\sqrt{2}}", "1+sqrt(2), 1-sqrt(2)", "set"), ("\\boxed{\\frac{5 \\pm 1}{2}}", "2, 3", "set"),
     ("So the answer is x = ±3.", "-3, 3", "set"), ("\\boxed{\\pm i}", "-i, i", "set"),
     ("[1 - sqrt(2), 1 + sqrt(2)]", "1+sqrt(2), 1-sqrt(2)", "set"), ("[-I, I]", "-I, I", "set")],
)
def test_plus_or_minus_and_a_printed_list_of_formulas_are_sets(text, expected, kind):
    found = extract_answer(text)
    assert (found.normalized, found.kind) == (expected, kind)


@pytest.mark.parametrize(
    "stdout, expected",
    [("1j\n-1j\n", "-I, I"), ("(1+2j)\n(1-2j)\n", "1+2*I, 1-2*I"), ("-1j\n", "-I"), ("(-0.5+1.5j)\n", "-0.5+1.5*I")],
)
def test_a_printed_complex_number_is_read_as_sympy_writes_it_never_as_a_real(stdout, expected):
    from ponder.tools.answers import printed_answer

    assert printed_answer(stdout, "Find the roots of x^2 + 1 = 0").normalized == expected


@pytest.mark.parametrize(
    "text, normalized, kind, shown",
    [("\\boxed{\\infty}", "oo", "expression", "∞"), ("\\boxed{-\\infty}", "-oo", "expression", "-∞"),
     ("\\boxed{-\\pi}", "-pi", "expression", "-pi"), ("\\boxed{\\alpha}", "\\alpha", "expression", "\\alpha"),
     ("\\boxed{\\frac{3}{8}}", "0.375", "number", "3/8"), ("\\boxed{0.375}", "0.375", "number", "0.375")],
)
def test_a_latex_command_is_never_words_and_a_fraction_is_shown_as_written(text, normalized, kind, shown):
    from ponder.tools.answers import as_written

    found = extract_answer(text)
    assert (found.normalized, found.kind, as_written(found)) == (normalized, kind, shown)


def test_a_number_too_long_for_python_to_write_is_no_number_and_never_an_error():
    from ponder.tools.answers import MAX_NUMBER_CHARS, parse_number, printed_answer

    assert parse_number("9" * MAX_NUMBER_CHARS) == int("9" * MAX_NUMBER_CHARS)
    assert parse_number("9" * (MAX_NUMBER_CHARS + 1)) is None
    for text in ("9" * 10_000, f"So he has {'9' * 10_000} apples.", f"\\boxed{{{'9' * 10_000}}}"):
        assert extract_answer(text).kind != "number" and printed_answer(text + "\n").kind != "number"


def test_numbers_too_large_for_a_float_compare_without_an_error():
    assert not equivalent("1e999", "999") and equivalent("1e999", "1E+999") and not equivalent("1e999", "1e998")
    assert equivalent("1000000", "1000000.5", rel_tol=1e-6) and not equivalent("1000000", "1000002")


def test_two_different_numbers_the_question_gives_are_two_answers_however_close():
    from fractions import Fraction

    from ponder.tools.answers import given_numbers

    given = given_numbers("Which is larger, 3/7 or 0.43?")
    assert given == {Fraction(3, 7), Fraction(43, 100)}
    assert equivalent("\\frac{3}{7}", "0.43")  # 3/7 rounds to 0.43, as a chain's rounding would
    assert not equivalent("\\frac{3}{7}", "0.43", given=given) and equivalent("0.43", "0.430", given=given)
    assert not equivalent("0.43", "0.4285714", given=given)  # a given decimal is exact: 3/7 computed is not it
    assert not equivalent("0.4285714", "0.43", given=given)
    assert equivalent("0.43", "0.4285714")  # with no question, a decimal rounds as before


def test_a_decimal_the_question_gives_or_a_fraction_never_agrees_by_rounding():
    """'Convert 0.375 to a fraction': the chain's 125/333 rounds to 0.375, and 0.375 and 3/8 are
    equal, so the three were one group and the wrong 125/333 was its answer."""
    from ponder.tools.answers import given_numbers

    given = given_numbers("Convert 0.375 to a fraction in lowest terms.")
    wrong, right, printed = extract_answer("\\boxed{\\frac{125}{333}}"), extract_answer("\\boxed{\\frac{3}{8}}"), "0.375"
    assert right.normalized == "0.375" and not equivalent(right, wrong) and not equivalent(wrong, right)
    assert not equivalent(printed, wrong, given=given) and equivalent(printed, right, given=given)
    assert equivalent(printed, wrong)  # a decimal the question does not give still rounds
    assert equivalent("0.38", "0.3754", given=given)


@pytest.mark.parametrize(
    "text, normalized",
    [("\\boxed{6\\frac{1}{4}}", "6.25"), ("\\boxed{6 \\dfrac{1}{4}}", "6.25"), ("so \\boxed{-3\\frac{1}{2}}", "-3.5"),
     ("\\boxed{\\frac{25}{4}}", "6.25"),  # no whole number before it
     ("\\boxed{2\\frac{5}{3}}", "2(5)/(3)"),  # an improper fraction is no mixed number's part
     ("\\boxed{x^2\\frac{1}{2}}", "x^2(1)/(2)")],  # an exponent's digit is no whole number
)
def test_a_latex_mixed_number_is_its_whole_plus_its_fraction(text, normalized):
    found = extract_answer(text)
    assert found.normalized == normalized
    if found.kind == "number":
        assert equivalent(found, normalize_answer(normalized))


SHARE = "Tom and Ann share $100 in the ratio 2:3. How much does each get?"


@pytest.mark.parametrize("question, text, normalized", [
    (SHARE, "Therefore, Tom gets \\(\\boxed{40}\\) dollars and Ann gets \\(\\boxed{60}\\) dollars.", "40, 60"),
    (SHARE, "Tom gets \\boxed{40}.\nAnn gets \\boxed{60}.", "60"),  # boxes on two lines: the last
    (SHARE, "So each gets \\boxed{50} and \\boxed{50.0}.", "50"),  # one number twice is one amount
    (SHARE, "Tom gets \\boxed{40} and Ann \\boxed{\\text{sixty}}.", ""),  # not all numbers: the last box, a word where a number is asked
    ("How much does Ann get?", "Tom gets \\boxed{40} and Ann gets \\boxed{60}.", "60"),  # one asked
])
def test_a_chain_that_boxes_an_amount_for_each_answers_with_all_of_them(question, text, normalized):
    from ponder.tools.answers import chain_answer

    assert chain_answer(text, question).normalized == normalized


def test_the_amounts_for_each_agree_with_a_program_that_prints_them_all_and_not_with_one():
    from ponder.tools.answers import chain_answer, printed_answer

    chain = chain_answer("Tom gets \\boxed{40} and Ann gets \\boxed{60}.", SHARE)
    assert equivalent(chain, printed_answer("40.0 60.0\n", SHARE))
    assert not equivalent(chain, printed_answer("60.0\n", SHARE))


@pytest.mark.parametrize("text, shown", [
    ("Tom gets \\boxed{60} and Ann gets \\boxed{40}.", "60, 40"),  # the order the question's people were named in
    ("Tom gets \\(\\boxed{\\$1,200}\\), Ann \\(\\boxed{800}\\).", "1200, 800"),
])
def test_amounts_for_each_are_shown_in_the_order_they_were_written(text, shown):
    from ponder.tools.answers import as_written, chain_answer

    found = chain_answer(text, SHARE)
    assert (found.normalized, as_written(found)) == (", ".join(sorted(shown.split(", "), key=float)), shown)


@pytest.mark.parametrize("text", ["x = 3 or x = 2", "{3, 2}", "3 and 2"])
def test_a_set_written_otherwise_is_shown_sorted(text):
    from ponder.tools.answers import as_written

    assert as_written(normalize_answer(text)) == "2, 3"


def test_a_line_of_more_boxes_than_amounts_is_read_as_its_last_box():
    from ponder.tools.answers import MAX_AMOUNTS, chain_answer

    line = " ".join(f"\\boxed{{{n}}}" for n in range(1, MAX_AMOUNTS + 2))
    assert chain_answer(line, SHARE).normalized == str(MAX_AMOUNTS + 1)
    assert chain_answer("\\boxed{" * 20000, SHARE).kind == "none"


@pytest.mark.parametrize("step, value", [
    ("Answer: 391", "391"), ("Candidate answer: 391", "391"), ("The answer is 7.", "7"), ("The answer: 7", "7"),
    ("Final answer: 12 apples", "12"), ("answer: \\boxed{5}", "5"), ("answers vary", "answers vary"),
])
def test_an_answer_steps_label_is_not_part_of_the_answer(step, value):
    """'Answer: 391' was read as the expression 'Answer:391' (a real model's answer step ends
    like its hypothesis, 'Candidate answer: ...')."""
    assert answer_from_step(step).normalized == value


@pytest.mark.parametrize("printed, value", [
    ("sqrt(2)", "sqrt(2)"), ("log(2)", "log(2)"), ("exp(1)", "exp(1)"), ("pi", "pi"),
    ("1e20", "100000000000000000000"), ("2e5", "200000"),
])
def test_a_printed_function_call_or_e_notation_is_its_value_not_its_last_digits(printed, value):
    """sqrt(2) was read as 2 and 1e20 as 20."""
    assert printed_answer(printed).normalized == value
    assert extract_answer(printed).normalized == value


def test_a_sentences_last_number_keeps_its_exponent():
    assert extract_answer("Half of 1.204e24 is 6.02e23.").normalized == "602000000000000000000000"
    assert extract_answer("He has 2 eggs").normalized == "2"


@pytest.mark.parametrize(
    "text, expected",
    [("So she pays \\boxed{\\frac{1}{2}", "0.5"),  # cut off before the closing brace: what it holds
     ("The answer is \\boxed{42", "42"),
     ("\\boxed{42} at first, then \\boxed{7", "7"),
     ("That leaves 5 and so \\boxed{\\frac{1}{", "5"),  # cut inside the box: its digits are no answer
     ("So \\boxed{\\frac{1}{", ""),
     ("3 apples. \\boxed{\\frac{1}{\n<answer>0.5</answer>", "0.5"),  # the lines after it are read as before
     ("So x is \\boxed{x =\nAnswer: 12", "12"),
     ("x = 3, so \\boxed{", "3")],
)
def test_a_last_box_that_never_closes(text, expected):
    assert extract_answer(text).normalized == expected
