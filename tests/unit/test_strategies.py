"""Strategies on the fake model: the review loop, vote, best-of-n, budgets, KV re-use and the registry."""

import pytest

from ponder.agent.settings import RULES, SCORER_NAMES, WEIGHTINGS, Budget
from ponder.agent.strategies import STRATEGIES
from ponder.trace.events import (
    Answer, CandidateScored, ReviewVerdict, RoundFinished, RoundStarted, RunFinished, VoteTally,
)
from tests.unit import scripts
from tests.unit.scripts import in_turn, per_sample

QUESTION = "What is 16 - 3 - 4?"
PASS_TWICE_REVIEWED = in_turn(scripts.PASSING | scripts.REVISE, scripts.PASSING | scripts.ACCEPT)


# -- chain: the review loop ----------------------------------------------------------------

def test_review_accept_ends_the_loop_after_one_round(think):
    run = think("chain", scripts.PASSING | scripts.ACCEPT)
    (verdict,) = run.of(ReviewVerdict)
    assert verdict.verdict == "accept" and verdict.reasons == "The check agrees with the answer."
    assert len(run.of(RoundStarted)) == 1 and len(run.backend.asked("review")) == 1
    assert run.answer == "9"


def test_review_runs_in_a_fresh_context_with_the_evidence_and_a_grammar(think):
    run = think("chain", scripts.PASSING | scripts.ACCEPT)
    (word,), (reasons,) = run.backend.asked("review"), run.backend.asked("review-reasons")
    (answer_step,) = run.backend.asked("answer")
    assert "<restate>" not in word.prompt and not word.prompt.startswith(answer_step.prompt)
    assert QUESTION in word.prompt and "Proposed answer: 9" in word.prompt and "Check outcome: pass" in word.prompt
    assert "The check agrees with the candidate answer 9." in word.prompt
    assert word.prompt.endswith("Verdict: ") and word.sampling.grammar == 'root ::= "ACCEPT" | "REVISE"'
    assert reasons.prompt == word.prompt + "ACCEPT\nReason: " and reasons.sampling.stop == ("\n",)
    (review,) = run.steps("review")
    assert review.completion_tokens > 0 and run.events[-1].usage["steps"] == 6


def test_the_prompt_total_counts_both_calls_of_a_review(think):
    from ponder.llm.fake import fake_tokens

    run = think("chain", scripts.PASSING | scripts.ACCEPT)
    (word,), (reasons,) = run.backend.asked("review"), run.backend.asked("review-reasons")
    (review,) = run.steps("review")
    assert review.prompt_tokens_sent == len(fake_tokens(word.prompt)) + len(fake_tokens(reasons.prompt))
    assert run.events[-1].usage["prompt_tokens_total"] == sum(len(fake_tokens(c.prompt)) for c in run.backend.calls)


def test_revise_starts_a_round_that_reads_the_critique(think):
    run = think("chain", PASS_TWICE_REVIEWED)
    assert [e.index for e in run.of(RoundStarted)] == [1, 2]
    assert [v.verdict for v in run.of(ReviewVerdict)] == ["revise", "accept"]
    first_chain, second_chain = (c.prompt for c in run.backend.asked("restate"))
    assert "A reviewer rejected the earlier answer 9. Reason: The answer does not follow" in second_chain
    assert "Wait! Maybe I made some mistakes! I need to rethink from scratch." in second_chain
    assert "Wait!" not in first_chain


def test_reflect_off_leaves_out_the_rethink_line(think):
    run = think("chain", PASS_TWICE_REVIEWED, reflect=False)
    second_chain = run.backend.asked("restate")[1].prompt
    assert "A reviewer rejected" in second_chain and "Wait!" not in second_chain


def test_best_answer_so_far_is_kept_when_a_later_round_is_worse(think):
    run = think("chain", in_turn(scripts.PASSING | scripts.REVISE, scripts.FAILING_11 | scripts.ACCEPT),
                max_corrections=0)
    assert [(r.normalized, r.verified) for r in run.of(RoundFinished)] == [("9", "pass"), ("11", "fail")]
    (answer,) = run.of(Answer)
    assert answer.normalized == "9" and run.answer == "9"
    assert answer.span == run.steps("answer")[0].span


def test_a_better_later_round_replaces_a_failed_one(think):
    run = think("chain", in_turn(scripts.FAILING_11 | scripts.REVISE, scripts.PASSING | scripts.ACCEPT),
                max_corrections=0)
    assert run.answer == "9"


def test_rounds_are_bounded(think):
    run = think("chain", scripts.PASSING | scripts.REVISE, rounds=2)
    assert len(run.of(RoundStarted)) == 2 and len(run.of(ReviewVerdict)) == 2


def test_review_off_runs_one_chain_and_no_review(think):
    run = think("chain", scripts.PASSING | scripts.REVISE, review=False)
    assert len(run.backend.calls) == 5 and not run.backend.asked("review") and not run.of(ReviewVerdict)
    assert run.answer == "9"


def test_an_unreadable_verdict_counts_as_accept(think):
    run = think("chain", scripts.PASSING | {"review": "maybe", "review-reasons": "hmm"})
    (verdict,) = run.of(ReviewVerdict)
    assert verdict.verdict == "accept" and "no readable verdict" in verdict.reasons


def test_the_review_of_a_computed_answer_reads_the_computation_as_evidence(think):
    run = think("chain", scripts.STUBBORN | scripts.ACCEPT)
    (review,) = run.backend.asked("review")
    assert "Proposed answer: 9" in review.prompt and "Check outcome: pass" in review.prompt
    assert "The code computed 9 straight from the question's numbers" in review.prompt
    assert "candidate answer was 11" not in review.prompt


def test_an_answer_a_check_computed_is_not_replaced_by_an_unchecked_one():
    from ponder.agent.critics.review import Review
    from ponder.agent.engine.chain import ChainResult
    from ponder.agent.engine.scaffold import Sample
    from ponder.agent.strategies.chain import better
    from ponder.tools.answers import normalize_answer

    computed = Sample(1, "s1", ChainResult(answer=normalize_answer("391"), verified="fail", answer_source="check"),
                      review=Review("revise", "x"))
    unchecked = Sample(2, "s9", ChainResult(answer=normalize_answer("221"), verified="none"), review=Review("accept", "y"))
    failed = Sample(2, "s9", ChainResult(answer=normalize_answer("221"), verified="fail"), review=Review("accept", "y"))
    passed = Sample(2, "s9", ChainResult(answer=normalize_answer("391"), verified="pass"), review=Review("accept", "y"))
    assert better(computed, unchecked) is computed
    assert better(computed, failed) is computed
    assert better(computed, passed) is passed  # as checked, and its review accepted
    assert better(better(None, failed), unchecked) is unchecked


# -- vote -----------------------------------------------------------------------------------

def test_vote_groups_equivalent_answers_and_the_majority_wins(think):
    run = think("vote", per_sample(scripts.PASSING, scripts.FAILING_11, scripts.PASSING), samples=3,
                max_corrections=0, weighting="count")
    (tally,) = run.of(VoteTally)
    assert [(g["answer"], g["votes"], g["rounds"]) for g in tally.groups] == [("9", 2, [1, 3]), ("11", 1, [2])]
    assert tally.winner == "9" and run.answer == "9" and tally.stopped == "samples"
    assert [c.answer for c in run.of(CandidateScored)] == ["9", "11", "9"]


def test_verifier_weighting_lets_one_checked_answer_beat_two_failed_ones(think):
    says = per_sample(scripts.FAILING_11, scripts.FAILING_11, scripts.PASSING)
    counted = think("vote", says, samples=3, max_corrections=0, weighting="count")
    weighted = think("vote", says, samples=3, max_corrections=0, weighting="verifier")
    assert counted.answer == "11"
    assert weighted.answer == "9"
    assert [g["weight"] for g in weighted.of(VoteTally)[0].groups] == [1.5, 1.0]


def test_vote_stops_early_when_the_leader_cannot_be_overtaken(think):
    run = think("vote", scripts.PASSING, samples=5, weighting="count", parallel=1)
    (tally,) = run.of(VoteTally)
    assert tally.samples == 3 and tally.stopped == "decided" and len(run.backend.asked("restate")) == 3


def test_vote_samples_in_waves_and_stops_early_between_them(think):
    run = think("vote", scripts.PASSING, samples=9, weighting="count", parallel=4)
    (tally,) = run.of(VoteTally)
    assert tally.samples == 8 and tally.stopped == "decided"  # 4 votes could still be caught by 5, 8 not by 1
    assert run.backend.batches == [4, 4]  # each wave one batch of four chains
    assert [c.index for c in run.of(RoundStarted)] == list(range(1, 9))


def test_chains_of_a_wave_keep_their_own_transcripts_and_seeds(think):
    says = per_sample(scripts.PASSING, scripts.FAILING_11)
    run = think("vote", says, samples=2, parallel=2, max_corrections=0)
    first, second = sorted(run.backend.asked("answer"), key=lambda c: c.sampling.seed)
    assert "Candidate answer: 9" in first.prompt and "Candidate answer: 11" in second.prompt
    assert first.sampling.seed != second.sampling.seed and {first.sampling.temperature} == {0.7}
    rounds = {r.index: r.span for r in run.of(RoundStarted)}
    parents = {e.span: e.parent for e in run.events if hasattr(e, "parent") and e.type == "step_started"}
    answers = {s.text: parents[s.span] for s in run.steps("answer")}
    assert answers == {"9": rounds[1], "11": rounds[2]}


def test_vote_samples_are_diverse_by_temperature_and_seed_and_share_the_prefix(think):
    run = think("vote", scripts.PASSING, samples=2, weighting="count", seed=7)
    firsts = run.backend.asked("restate")
    assert {c.sampling.temperature for c in firsts} == {0.7}
    assert firsts[0].sampling.seed != firsts[1].sampling.seed
    second_start = [s for s in run.steps("restate")][1]
    assert second_start.prompt_tokens_evaluated < second_start.prompt_tokens / 10  # the shared prefix is re-used
    usage = run.events[-1].usage
    assert usage["prompt_tokens_evaluated"] < usage["prompt_tokens_total"]
    answers = run.steps("answer")
    assert usage["transcript_tokens_total"] == sum(s.prompt_tokens + s.completion_tokens for s in answers)


def test_rounds_of_a_vote_hang_off_the_run(think):
    run = think("vote", scripts.PASSING, samples=2)
    assert {r.parent for r in run.of(RoundStarted)} == {"run"}
    assert {c.parent for c in run.of(CandidateScored)} == {r.span for r in run.of(RoundStarted)}


# -- best-of-n ------------------------------------------------------------------------------

def test_best_of_n_picks_the_highest_verifier_score(think):
    run = think("best-of-n", per_sample(scripts.FAILING_11, scripts.PASSING, scripts.FAILING_11), samples=3,
                max_corrections=0, scorers=("verifier",))
    assert [c.score for c in run.of(CandidateScored)] == [0.0, 1.0, 0.0]
    assert run.answer == "9"


def test_best_of_n_judge_scorer_uses_the_yes_probability_in_a_fresh_context(think):
    judge = {"judge": lambda prompt: "no" if "Proposed answer: 9" in prompt else "yes"}
    says = per_sample(scripts.PASSING | judge, scripts.FAILING_11 | judge)
    run = think("best-of-n", says, samples=2, max_corrections=0, scorers=("judge",))
    judged = run.backend.asked("judge")
    assert len(judged) == 2 and "Is this answer correct?" in judged[0].prompt
    assert all(c.sampling.grammar == 'root ::= "yes" | "no"' for c in judged)
    assert [c.scores["judge"] for c in run.of(CandidateScored)] == [pytest.approx(0.1), pytest.approx(0.9)]
    assert run.answer == "11"


def test_scores_combine_by_the_named_rule(think):
    mean = think("best-of-n", scripts.PASSING, samples=1, scorers=("verifier", "confidence"), rule="mean")
    product = think("best-of-n", scripts.PASSING, samples=1, scorers=("verifier", "confidence"), rule="product")
    assert mean.of(CandidateScored)[0].score == pytest.approx((1.0 + 0.9) / 2)
    assert product.of(CandidateScored)[0].score == pytest.approx(0.9)


# -- budget -----------------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["vote", "best-of-n"])
@pytest.mark.parametrize("parallel", [1, 4])
def test_samples_budget_stops_sampling(think, strategy, parallel):
    run = think(strategy, scripts.PASSING, samples=5, weighting="count", budget=Budget(samples=2), parallel=parallel)
    assert len(run.of(RoundStarted)) == 2 and run.answer == "9"


@pytest.mark.parametrize("strategy", ["chain", "vote", "best-of-n"])
def test_token_budget_is_never_exceeded_and_an_answer_is_kept(think, strategy):
    run = think(strategy, scripts.PASSING | scripts.REVISE, samples=6, rounds=6, budget=Budget(tokens=200), parallel=1)
    assert run.events[-1].usage["completion_tokens"] <= 200
    assert 1 <= len(run.of(RoundStarted)) < 6
    assert run.answer == "9"


@pytest.mark.parametrize("strategy", ["vote", "best-of-n", "beam"])
def test_chains_side_by_side_split_the_tokens_left(think, strategy):
    run = think(strategy, scripts.PASSING | {"judge": "yes", "correct": scripts.RIGHT}, samples=8, parallel=4,
                budget=Budget(tokens=150), scorers=("verifier", "judge"))
    assert run.events[-1].usage["completion_tokens"] <= 150 and run.answer


def test_seconds_budget_starts_no_new_chain(think):
    run = think("vote", scripts.PASSING, samples=3, budget=Budget(seconds=0.0), parallel=1)
    assert len(run.of(RoundStarted)) == 1 and run.of(VoteTally)[0].stopped == "budget"
    assert run.answer == "9"


def test_seconds_budget_is_checked_between_waves(think):
    run = think("vote", scripts.PASSING, samples=6, budget=Budget(seconds=0.0), parallel=3)
    assert len(run.of(RoundStarted)) == 3 and run.of(VoteTally)[0].stopped == "budget"


# -- every strategy ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_ends_with_answer_and_run_finished(think, name):
    routes = {"reason": "So \\boxed{9}.", "program": "print(9)\n```"}
    run = think(name, scripts.PASSING | scripts.ACCEPT | {"judge": "yes"} | routes, samples=2)
    assert isinstance(run.events[-1], RunFinished) and isinstance(run.events[-2], Answer)
    assert run.events[0].strategy == name and run.answer == "9"


def test_the_registry_holds_every_strategy_once_with_a_summary():
    assert list(STRATEGIES) == ["chain", "vote", "best-of-n", "beam", "mcts", "cascade"]
    assert all(s.name == name and s.summary for name, s in STRATEGIES.items())


def test_settings_name_exactly_the_scorers_rules_and_weightings_that_exist():
    from ponder.agent.critics.scorers import RULES as RULE_FUNCTIONS
    from ponder.agent.critics.scorers import SCORERS
    from ponder.agent.strategies.vote import WEIGHTINGS as WEIGHINGS

    assert tuple(SCORERS) == SCORER_NAMES and tuple(RULE_FUNCTIONS) == RULES and tuple(WEIGHINGS) == WEIGHTINGS


def test_bad_settings_are_named_before_anything_runs():
    from ponder.agent.settings import RunConfig

    problems = RunConfig(scorers=("nope",), weighting="heavy", rule="max", budget=Budget(tokens=10)).problems()
    assert len(problems) == 4 and "unknown scorer 'nope'" in problems[0] and "heavy" in problems[1]
    assert RunConfig().problems() == []


def test_best_of_n_samples_in_waves_with_each_judgement_in_its_wave(think):
    says = scripts.PASSING | {"judge": "yes"}
    run = think("best-of-n", says, samples=4, parallel=2, scorers=("verifier", "judge"))
    assert run.backend.batches == [2, 2]  # each wave: two chains and their judgements
    assert len(run.of(CandidateScored)) == 4 and run.answer == "9"


def test_beam_grows_its_expansions_side_by_side(think):
    run = think("beam", scripts.PASSING | {"correct": scripts.RIGHT}, width=2, expansions=2, parallel=4)
    assert run.backend.batches and max(run.backend.batches) == 4 and run.answer == "9"
    sequential = think("beam", scripts.PASSING | {"correct": scripts.RIGHT}, width=2, expansions=2, parallel=1)
    assert sequential.backend.batches == [] and sequential.answer == "9"
    assert len(sequential.steps()) == len(run.steps())  # the same tree, grown in waves


def test_a_runs_sympy_comparisons_are_bounded(monkeypatch):
    """Every pair of 64 distinct formulas was compared in its own sandbox run: minutes of silence."""
    from ponder.agent.strategies import _tally
    from ponder.tools.answers import normalize_answer
    from ponder.tools.sandbox import Sandbox

    calls = []
    monkeypatch.setattr(_tally, "symbolic_equal", lambda a, b, sandbox: calls.append((a, b)) or False)
    same = _tally.same_answers("Simplify x + 1.", Sandbox("off"))
    answers = [normalize_answer(f"x**2 + {n}*x") for n in range(2, 40)]
    for a in answers:
        for b in answers:
            same(a, b)
    assert len(calls) == _tally.SYMBOLIC_PAIRS


# -- ranking by evidence (found by an adversarial review) ----------------------------------------

WRONG_CHECKED = scripts.chain(hypothesize=scripts.WRONG, verify=scripts.CHECK)


def test_a_chain_that_answers_what_its_clean_check_computed_is_verified_and_kept(think):
    says = {**WRONG_CHECKED, "answer": ["9", "11"], "verify": [scripts.CHECK, "x = 1\n```\n"], **scripts.REVISE}
    run = think("chain", says, rounds=2, max_corrections=0)
    assert [(r.normalized, r.verified) for r in run.of(RoundFinished)] == [("9", "pass"), ("11", "none")]
    assert run.answer == "9"


def test_on_an_evidence_tie_the_earlier_round_stays(think):
    says = {**scripts.chain(hypothesize=[scripts.RIGHT, scripts.WRONG], verify=[scripts.CHECK, "print(16 - 3 - 3)\n```\n"]),
            "answer": ["9", "11"], **scripts.REVISE}
    run = think("chain", says, rounds=2, max_corrections=0)
    assert [(r.normalized, r.verified, r.source) for r in run.of(RoundFinished)] == [
        ("9", "pass", "model"), ("10", "fail", "check")]
    assert run.answer == "9"


@pytest.mark.parametrize("scorers, rule", [(("verifier",), "mean"), (("verifier", "confidence"), "min"),
                                           (("verifier", "confidence"), "product")])
def test_best_of_n_prefers_an_answer_to_none_whatever_the_scores(think, scorers, rule):
    none = scripts.chain(hypothesize="I am not sure.\n", verify="nothing to run\n", answer="")
    failed_11 = scripts.chain(hypothesize=scripts.WRONG, verify=scripts.BROKEN_CHECK, answer="11")
    run = think("best-of-n", per_sample(none, failed_11), samples=2, parallel=1, scorers=scorers, rule=rule,
                max_corrections=0)
    assert run.answer == "11" and run.events[-1].status == "ok"


def test_a_wave_never_starts_chains_below_a_chains_minimum_of_the_tokens_left(think):
    from ponder.agent.settings import MIN_CHAIN_TOKENS

    run = think("vote", scripts.PASSING, samples=6, parallel=4, weighting="count", budget=Budget(tokens=200))
    kinds = [type(e).__name__ for e in run.events if isinstance(e, (RoundStarted, RoundFinished))]
    assert kinds.index("RoundFinished") == 200 // MIN_CHAIN_TOKENS  # the first wave: 3 chains of 66 tokens, not 4 of 50
    assert run.events[-1].usage["completion_tokens"] <= 200 and run.answer == "9"
