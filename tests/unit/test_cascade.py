"""The cascade on the fake model: two independent routes, agreement, waves, the weighted vote."""

import pytest

from ponder.agent.settings import Budget
from ponder.agent.strategies.cascade import AGREEMENT_BONUS, ROUTE_WEIGHTS
from ponder.trace.events import CandidateScored, RoundStarted, StepStarted, ToolResult, VoteTally

REASON_9 = "16 - 3 = 13 and 13 - 4 = 9.\nSo the answer is \\boxed{9}."
REASON_11 = "16 - 3 = 13 and 13 - 4 = 11.\nSo the answer is \\boxed{11}."
PROGRAM_9 = "print(16 - 3 - 4)\n```"
PROGRAM_11 = "print(16 - 3 - 2)\n```"
CRASH = "print(1 / 0)\n```"


def test_two_greedy_routes_that_agree_end_the_run_after_one_wave(think):
    run = think("cascade", {"reason": REASON_9, "program": PROGRAM_9}, samples=8)
    (tally,) = run.of(VoteTally)
    assert run.answer == "9" and tally.stopped == "agreed" and tally.samples == 2
    assert run.backend.batches == [2]  # both routes decoded side by side
    assert [c.sampling.temperature for c in run.backend.calls] == [0.0, 0.0]
    assert [s.factor for s in run.of(StepStarted)] == ["hypothesize", "verify"]
    assert run.of(ToolResult)[0].output.strip() == "9"


def test_the_program_is_written_from_the_question_alone(think):
    run = think("cascade", {"reason": REASON_11, "program": PROGRAM_9}, samples=2)
    (program,) = run.backend.asked("program")
    (reason,) = run.backend.asked("reason")
    assert "What is 16 - 3 - 4?" in program.prompt and "What is 16 - 3 - 4?" in reason.prompt
    for leaked in ("13 - 4", "boxed", "11", "Candidate"):
        assert leaked not in program.prompt.split("Question:")[-1]
    assert "print(" not in reason.prompt and program.prompt.endswith("```python\n")
    assert program.sampling.stop == ("```",)


def test_disagreement_samples_more_of_both_routes_and_the_weighted_vote_decides(think):
    says = {"reason": [REASON_11, REASON_9], "program": PROGRAM_9}
    run = think("cascade", says, samples=8, parallel=2)
    (tally,) = run.of(VoteTally)
    # after 6 routes: 9 has 5 votes and the bonus (6), 11 could reach 1 + bonus + 2 left (4)
    assert run.answer == "9" and tally.stopped == "decided" and tally.samples == 6
    assert run.backend.batches == [2, 2, 2]
    assert [r.index for r in run.of(RoundStarted)] == list(range(1, 7))
    assert [c.rule for c in run.of(CandidateScored)] == ["reason", "program"] * 3
    temperatures = [c.sampling.temperature for c in run.backend.calls]
    assert temperatures[:2] == [0.0, 0.0] and set(temperatures[2:]) == {0.7}
    assert len({c.sampling.seed for c in run.backend.calls[2:]}) == 4
    nine = next(g for g in tally.groups if g["answer"] == "9")
    assert nine["routes"] == ["program", "reason"] and nine["votes"] == 5
    assert nine["weight"] == pytest.approx(2 * ROUTE_WEIGHTS["reason"] + 3 * ROUTE_WEIGHTS["program"] + AGREEMENT_BONUS)


def test_a_program_that_fails_casts_no_vote(think):
    run = think("cascade", {"reason": REASON_9, "program": CRASH}, samples=3, parallel=1)
    scores = {c.rule: c.score for c in run.of(CandidateScored)}
    assert scores["program"] == 0.0 and run.answer == "9"
    verify = run.steps("verify")[0]
    assert verify.outcome == "fail" and "ZeroDivisionError" in verify.observation


def test_a_program_that_prints_ten_thousand_digits_is_read_without_failing_the_run(think):
    run = think("cascade", {"reason": REASON_9, "program": "print('9' * 10_000)\n```"}, samples=2)
    assert run.answer == "9"  # it used to raise: Python will not turn 10,000 digits into an int
    huge = think("cascade", {"reason": REASON_9, "program": "print(2 ** 1100)\n```"}, samples=2)
    assert huge.answer == "9"  # it used to raise: 2 ** 1100 is too large for the float a tolerance was taken in


def test_the_samples_budget_bounds_the_routes(think):
    says = {"reason": [REASON_11, REASON_9], "program": [PROGRAM_9, PROGRAM_11]}
    run = think("cascade", says, samples=8, budget=Budget(samples=3), parallel=4)
    assert len(run.of(RoundStarted)) == 3 and run.of(VoteTally)[0].stopped == "budget"
    assert run.answer in ("9", "11")


def test_a_text_without_a_number_has_no_answer_and_no_vote(think):
    run = think("cascade", {"reason": "I cannot tell.", "program": PROGRAM_9}, samples=2)
    assert [c.score for c in run.of(CandidateScored)] == [0.0, ROUTE_WEIGHTS["program"]]
    assert run.answer == "9"


CAPITAL = "What is the capital of France?"
PRIME = "Is 91 a prime number?"


def test_a_chain_that_answers_in_words_ends_the_run_after_one_wave(think):
    says = {"reason": "The capital of France is \\boxed{Paris}.", "program": "print(len('Paris'))\n```"}
    run = think("cascade", says, question=CAPITAL, samples=6)
    (tally,) = run.of(VoteTally)
    assert run.answer == "paris" and tally.stopped == "words" and tally.samples == 2
    assert len(run.backend.calls) == 2  # no samples: a program cannot compute words, and text votes literally
    assert {g["answer"] for g in tally.groups} == {"paris", "5"}


def test_a_chain_that_answers_in_words_ends_the_run_though_the_program_names_something_else(think):
    says = {"reason": "By Zeller's rule it was a \\boxed{\\text{Thursday}}.",
            "program": "import datetime\nprint(datetime.date(2000, 1, 1).strftime('%A'))\n```"}
    run = think("cascade", says, question="What day of the week was 1 January 2000?", samples=6)
    (tally,) = run.of(VoteTally)  # sampling on was tried: on the real model it answered monday, 2.4x slower
    assert run.answer == "thursday" and tally.stopped == "words" and tally.samples == 2
    assert [g["answer"] for g in tally.groups] == ["thursday", "saturday"]


def test_a_chain_that_writes_a_poem_is_the_answer_and_no_step_number_of_a_sample_is(think):
    says = {"reason": "Autumn leaves fall,\nSilent trees whisper,\nPeace in the air.", "program": "# Autumn leaves fall\n```"}
    run = think("cascade", says, question="Write a haiku about autumn.", samples=6)
    (tally,) = run.of(VoteTally)
    assert run.answer == "autumn leaves fall, silent trees whisper, peace in the air"
    assert tally.stopped == "words" and tally.samples == 2 and len(run.backend.calls) == 2


def test_a_chain_that_answers_in_latex_is_no_answer_in_words_and_samples_on(think):
    says = {"reason": "Both sides grow without bound: \\boxed{\\infty}", "program": "print(1)\n```"}
    run = think("cascade", says, question="Evaluate the limit of sin(x)/x as x approaches 0", samples=4, parallel=2)
    (tally,) = run.of(VoteTally)
    assert tally.stopped != "words" and tally.samples == 4


def test_a_yes_against_a_printed_false_is_a_disagreement_that_samples_on(think):
    says = {"reason": "91 is odd, so \\boxed{Yes}", "program": "print(91 % 7 != 0)\n```"}
    run = think("cascade", says, question=PRIME, samples=4, parallel=2)
    (tally,) = run.of(VoteTally)
    assert tally.stopped != "words" and tally.samples == 4


def test_the_program_is_asked_for_sympy_for_a_formula_true_or_false_for_yes_or_no_else_a_number(think):
    algebra = think("cascade", {"reason": REASON_9, "program": PROGRAM_9}, question="Simplify (x^2 - 1)/(x - 1)",
                    samples=2)
    words = think("cascade", {"reason": REASON_9, "program": PROGRAM_9}, samples=2)
    (asked_algebra,), (asked_words,) = algebra.backend.asked("program"), words.backend.asked("program")
    assert "sympy.symbols" in asked_algebra.prompt and "Simplify (x^2 - 1)/(x - 1)" in asked_algebra.prompt
    assert "sympy" not in asked_words.prompt and "as a number" in asked_words.prompt
    truth = think("cascade", {"reason": REASON_9, "program": PROGRAM_9}, question="Is 221 a prime number?", samples=2)
    (asked_truth,) = truth.backend.asked("program")
    assert "print only True or False" in asked_truth.prompt and "Is 221 a prime number?" in asked_truth.prompt
    choice = think("cascade", {"reason": "\\boxed{5/11}", "program": 'print("5/11")\n```'},
                   question="Which is larger, 3/7 or 5/11?", samples=2)
    (asked_choice,) = choice.backend.asked("program")
    assert "print only the number it chooses" in asked_choice.prompt and "True or False" not in asked_choice.prompt
    assert "Which is larger, 3/7 or 5/11?" in asked_choice.prompt and choice.answer == "5/11"


def test_a_chain_that_answers_yes_or_no_with_the_questions_own_number_casts_no_vote(think):
    says = {"reason": "97 has no divisor up to 9, so \\boxed{97}", "program": "print(all(97 % d for d in range(2, 10)))\n```"}
    run = think("cascade", says, question="Is 97 a prime number?", samples=2)
    (tally,) = run.of(VoteTally)
    assert [g["answer"] for g in tally.groups] == ["yes"] and run.answer == "yes"


SYMPY = "import sympy as sp\nx = sp.symbols('x')\n"


@pytest.mark.parametrize(
    "question, reason, program, answer",
    [(PRIME, "91 = 7 x 13, so it is not prime: \\boxed{\\text{No}}", "print(91 % 7 != 0)", "no"),  # False is no
     ("Solve x^2 - 5x + 6 = 0.", "(x - 2)(x - 3) = 0, so \\boxed{x = 3 \\text{ or } x = 2}", "print([2.0, 3.0])", "2, 3"),
     ("Solve x^2 - 5x + 6 = 0.", "(x - 2)(x - 3) = 0, so \\boxed{2 \\text{ and } 3}",  # each root on its own line
      "x1 = (5 + 1) / 2\nx2 = (5 - 1) / 2\nprint(x1)\nprint(x2)", "2, 3"),
     ("What is the derivative of x^3 + 2x?", "d/dx x^3 = 3x^2 and d/dx 2x = 2, so \\boxed{3x^2 + 2}",
      SYMPY + "print(sp.diff(x**3 + 2*x, x))", "3x^2+2"),  # two ways to write a formula, equal by sympy
     ("What is the derivative of x^3 * sin(x)?", "By the product rule: \\boxed{3x^2\\sin(x) + x^3 \\cos x}",
      SYMPY + "print(sp.diff(x**3 * sp.sin(x), x))", "3x^2*sin(x)+x^3*cos(x)"),  # LaTeX functions
     ("What is the integral of 2x?", "The integral of 2x is \\boxed{x^2 + C}", SYMPY + "print(sp.integrate(2*x, x))",
      "x^2+C"),  # the antiderivative's constant
     ("Solve x^2 - 2x - 1 = 0", "By the quadratic formula, \\boxed{x = 1 \\pm \\sqrt{2}}",
      "import math\nprint(1 + math.sqrt(2))\nprint(1 - math.sqrt(2))", "1+sqrt(2), 1-sqrt(2)"),  # member by member
     ("Convert 100 degrees Fahrenheit to Celsius.", "(100 - 32) * 5/9 = 37.78, so \\boxed{37.78}",
      "print((100 - 32) * 5 / 9)", "37.78"),  # rounded to cents; the chain's, as written
     ("What is the square root of 2?", "The square root of 2 is \\boxed{\\sqrt{2}}.", "import math\nprint(math.sqrt(2))",
      "sqrt(2)"),  # LaTeX against a decimal, by sympy
     ("A train leaves at 3:45 pm for 2 hours 30 minutes. When does it arrive?", "It arrives at \\boxed{6:15 \\text{ PM}}",
      "print(18, ':', 15)", "18:15"),  # a time of day on two clocks (`ask` shows it as written)
     ("A train leaves at 3:45 pm for 2 hours 30 minutes. When does it arrive?", "It arrives at \\boxed{6:15}",
      "print('18:15')", "6:15"),  # no am/pm: either half of the day
     ("What day of the week was 1 January 2000?", "It was a \\boxed{\\text{Saturday}}.", "print('Saturday')",
      "saturday"),  # a program's few printed words are its answer
     ("What is 2^64?", "It is about \\boxed{1.8446744073709551 \\times 10^{19}}", "print(2 ** 64)",
      "18446744073709551616"),  # the exact integer over a power of ten, though the chain's is the tie's
     ("What is 6.02 x 10^23 divided by 2?", "\\boxed{3.01 \\times 10^{23}}", "print(6.02 * 10**23 / 2)",
      "3.01*10^(23)"),  # a float's 3.0099999999999996e+23 is no exact integer
     ("How long is it from 9:45 am to 2:10 pm?", "That is \\boxed{4 \\text{ hours and } 25 \\text{ minutes}}.",
      "print(4, 'hours', 25, 'minutes')", "4 hours 25 minutes"),  # a duration, not the last number 25
     ("Solve the system x + y = 10 and x - y = 4.", "So \\boxed{(7, 3)}", "print({'x': 7, 'y': 3})",
      "(7,3)"),  # one ordered pair
     ("What is the probability of rolling two sixes?", "1/6 * 1/6 = \\boxed{\\frac{1}{36}}", "print(1 / 36)",
      "1/36")],  # a fraction over a decimal that may be rounded
)
def test_a_chain_and_a_program_that_write_one_answer_differently_agree_after_one_wave(think, question, reason, program,
                                                                                        answer):
    run = think("cascade", {"reason": reason, "program": program + "\n```"}, question=question, samples=6)
    (tally,) = run.of(VoteTally)
    assert (run.answer, tally.stopped, tally.samples) == (answer, "agreed", 2)


def test_two_numbers_the_question_offers_are_a_disagreement_however_close(think):
    says = {"reason": "3/7 is about 0.4286, less than 0.43, so \\boxed{\\frac{3}{7}}", "program": "print(0.43)\n```"}
    run = think("cascade", says, question="Which is larger, 3/7 or 0.43?", samples=2)
    (tally,) = run.of(VoteTally)
    # one vote each: the tie to which of two numbers goes to the program
    assert tally.stopped == "samples" and [g["answer"] for g in tally.groups] == ["0.43", "3/7"]



def test_every_vote_keeps_apart_the_numbers_a_question_offers():
    from ponder.agent.strategies._tally import same_answers
    from ponder.tools.answers import normalize_answer

    offered, plain = same_answers("Which is larger, 3/7 or 0.43?"), same_answers("What is 3/7 to two places?")
    three_sevenths, rounded = normalize_answer("\\frac{3}{7}"), normalize_answer("0.43")
    assert not offered(three_sevenths, rounded) and plain(three_sevenths, rounded)


def test_a_program_that_forgot_an_import_runs_again_with_it_and_its_value_counts(think):
    forgot = "print(gcd(12, 18) - 6 + 9)\n```"  # 9 once gcd is imported
    run = think("cascade", {"reason": REASON_9, "program": forgot}, samples=6)
    (tally,) = run.of(VoteTally)
    assert run.answer == "9" and tally.stopped == "agreed" and tally.samples == 2
    first, second = run.of(ToolResult)
    assert first.status == "error" and "NameError" in first.error and second.output.strip() == "9"
    calls = [e for e in run.events if type(e).__name__ == "ToolCall"]
    assert calls[1].input == "from math import gcd\n" + calls[0].input  # what ran is what is shown


def test_a_program_whose_own_name_is_undefined_is_not_repaired(think):
    slip = "total = 9\nprint(Total)\n```"
    run = think("cascade", {"reason": REASON_9, "program": slip}, samples=2)
    (result,) = run.of(ToolResult)
    assert result.status == "error" and run.steps("verify")[0].outcome == "fail"


SMALLER = "Which is smaller, 0.125 or 1/9?"
CHAIN_EIGHTH = "0.125 is less than 0.111, so the smaller is \\boxed{0.125}."
PROGRAM_NINTH = "print('1/9')\n```"


def test_a_tie_between_chains_and_programs_to_which_of_two_numbers_goes_to_the_programs(think):
    says = {"reason": CHAIN_EIGHTH, "program": PROGRAM_NINTH}
    run = think("cascade", says, question=SMALLER, samples=6, parallel=2)
    (tally,) = run.of(VoteTally)
    assert [g["votes"] for g in tally.groups] == [3, 3] and tally.stopped == "samples"
    assert run.answer == "1/9" and tally.winner == "1/9" and tally.groups[0]["routes"] == ["program"]


def test_a_tie_to_any_other_question_still_goes_to_the_greedy_chain(think):
    says = {"reason": REASON_11, "program": PROGRAM_9}
    run = think("cascade", says, samples=6, parallel=2)
    (tally,) = run.of(VoteTally)
    assert [g["votes"] for g in tally.groups] == [3, 3] and run.answer == "11"


SHARE = "Tom and Ann share $100 in the ratio 2:3. How much does each get?"
CHAIN_EACH = "Each part is 100 / 5 = 20.\nTom gets \\boxed{40} dollars and Ann gets \\boxed{60} dollars."


def test_a_program_that_printed_one_of_the_amounts_the_chain_gives_for_each_ends_the_run(think):
    run = think("cascade", {"reason": CHAIN_EACH, "program": "print(3 / 5 * 100)\n```"}, question=SHARE,
                samples=6, parallel=2)
    (tally,) = run.of(VoteTally)
    assert tally.stopped == "covered" and tally.samples == 2 and run.answer == "40, 60"


def test_a_program_covers_the_chain_only_with_one_of_its_amounts(think):
    run = think("cascade", {"reason": CHAIN_EACH, "program": "print(50)\n```"}, question=SHARE, samples=6, parallel=2)
    (tally,) = run.of(VoteTally)
    assert tally.stopped != "covered" and tally.samples == 6


def test_to_a_question_for_one_amount_the_chain_answers_its_last_box_and_agrees_with_the_program(think):
    question = "Tom and Ann share $100 in the ratio 2:3. How much does Ann get?"
    run = think("cascade", {"reason": CHAIN_EACH, "program": "print(60)\n```"}, question=question, samples=6)
    (tally,) = run.of(VoteTally)
    assert tally.stopped == "agreed" and run.answer == "60"


AGES = "A father is 30 years older than his son. Their ages add up to 50. How old are they both?"
CHAIN_AGES = "The son is (50 - 30) / 2 = 10.\nThe son is \\boxed{10} and the father is \\boxed{40}."
CHAIN_FATHER = "The son is 10, so the father is \\boxed{40}."


def test_to_a_question_for_each_a_group_of_amounts_weighs_the_single_amounts_it_holds(think):
    # chains: 10 and 40, 10 and 40, 40 alone; programs: their sum 50, 50, the father's 40
    says = {"reason": [CHAIN_AGES, CHAIN_AGES, CHAIN_FATHER], "program": ["print(50)\n```", "print(50)\n```", "print(40)\n```"]}
    run = think("cascade", says, question=AGES, samples=6, parallel=2)
    (tally,) = run.of(VoteTally)
    assert run.answer == "10, 40" and tally.samples == 6
    amounts = next(g for g in tally.groups if g["answer"] == "10, 40")
    # two votes, the father's 40 (a chain and a program: 2) and the bonus their routes earn together
    assert amounts["votes"] == 2 and amounts["weight"] == pytest.approx(2 + 2 + AGREEMENT_BONUS)


def test_a_set_weighs_the_single_amounts_it_holds_only_when_asked_for_each():
    from ponder.agent.engine.chain import ChainResult
    from ponder.agent.engine.scaffold import Sample
    from ponder.agent.strategies._tally import same_answers
    from ponder.agent.strategies.cascade import ranked
    from ponder.tools.answers import normalize_answer

    answers = [("reason", "10, 40"), ("program", "50"), ("reason", "40"), ("program", "40")]
    samples = [Sample(n + 1, f"s{n}", ChainResult(answer=normalize_answer(a)), route=r) for n, (r, a) in enumerate(answers)]
    same = same_answers(AGES)
    plain = {g.members[0][0].result.answer.normalized: w for g, w in ranked(samples, same)}
    each = {g.members[0][0].result.answer.normalized: w for g, w in ranked(samples, same, each=True)}
    assert plain == {"40": 2 + AGREEMENT_BONUS, "10, 40": 1, "50": 1}
    assert each == {"10, 40": 1 + 2 + AGREEMENT_BONUS, "40": 2 + AGREEMENT_BONUS, "50": 1}


def test_asked_for_each_the_vote_is_not_decided_while_a_new_set_of_amounts_could_hold_the_leader():
    from ponder.agent.engine.chain import ChainResult
    from ponder.agent.engine.scaffold import Sample
    from ponder.agent.strategies._tally import same_answers
    from ponder.agent.strategies.cascade import decided, ranked
    from ponder.tools.answers import normalize_answer

    answers = [("reason", "40"), ("program", "40"), ("reason", "40"), ("program", "50")]
    samples = [Sample(n + 1, f"s{n}", ChainResult(answer=normalize_answer(a)), route=r) for n, (r, a) in enumerate(answers)]
    same = same_answers(AGES)
    assert decided(ranked(samples, same), left=1)
    assert not decided(ranked(samples, same, each=True), left=1, each=True)  # a chain's "10, 40" would weigh 1 + 3 + 1
