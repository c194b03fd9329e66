"""Strategies on the fake backend: the review loop, vote, best-of-n, budgets and KV re-use."""

from dataclasses import replace

import pytest

from ponder.agent.budget import Budget
from ponder.agent.chain import ChainConfig
from ponder.agent.config import SearchConfig
from ponder.agent.strategies import STRATEGIES
from ponder.llm.fake import FakeBackend
from ponder.trace.events import (
    Answer, CandidateScored, ReviewVerdict, RoundFinished, RoundStarted, RunFinished, StepFinished, VoteTally,
)
from tests.unit import scripts

QUESTION = "What is 16 - 3 - 4?"
NO_FIX = ChainConfig(max_corrections=0)


def run(strategy, outputs, **config):
    backend = FakeBackend(outputs)
    events = list(STRATEGIES[strategy](backend, QUESTION, SearchConfig(**config), run_id="r", model="fake"))
    return backend, events


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


# -- chain: the review loop ----------------------------------------------------------------

def test_review_accept_ends_the_loop_after_one_round():
    backend, events = run("chain", scripts.PASSING + scripts.ACCEPT + scripts.PASSING)
    (verdict,) = of(events, ReviewVerdict)
    assert verdict.verdict == "accept" and verdict.reasons == "The check agrees with the answer."
    assert len(of(events, RoundStarted)) == 1 and len(backend.calls) == 7
    assert events[-1].answer == "9"


def test_review_runs_in_a_fresh_context_with_the_evidence_and_a_grammar():
    backend, events = run("chain", scripts.PASSING + scripts.ACCEPT)
    word, reasons = backend.calls[5], backend.calls[6]
    assert "<restate>" not in word.prompt and not word.prompt.startswith(backend.calls[4].prompt)
    assert QUESTION in word.prompt and "Proposed answer: 9" in word.prompt and "Check outcome: pass" in word.prompt
    assert "The check agrees with the candidate answer 9." in word.prompt
    assert word.prompt.endswith("Verdict: ") and word.sampling.grammar == 'root ::= "ACCEPT" | "REVISE"'
    assert reasons.prompt == word.prompt + "ACCEPT\nReason: " and reasons.sampling.stop == ("\n",)
    review = [e for e in of(events, StepFinished) if e.factor == "review"][0]
    assert review.completion_tokens > 0 and events[-1].usage["steps"] == 6


def test_revise_starts_a_round_that_reads_the_critique():
    backend, events = run("chain", scripts.PASSING + scripts.REVISE + scripts.PASSING + scripts.ACCEPT)
    assert [e.index for e in of(events, RoundStarted)] == [1, 2]
    assert [v.verdict for v in of(events, ReviewVerdict)] == ["revise", "accept"]
    second_chain = backend.calls[7].prompt
    assert "A reviewer rejected the earlier answer 9. Reason: The answer does not follow" in second_chain
    assert "Wait! Maybe I made some mistakes! I need to rethink from scratch." in second_chain
    assert "Wait!" not in backend.calls[0].prompt


def test_reflect_off_leaves_out_the_rethink_line():
    backend, _ = run("chain", scripts.PASSING + scripts.REVISE + scripts.PASSING + scripts.ACCEPT, reflect=False)
    assert "A reviewer rejected" in backend.calls[7].prompt and "Wait!" not in backend.calls[7].prompt


def test_best_answer_so_far_is_kept_when_a_later_round_is_worse():
    outputs = scripts.PASSING + scripts.REVISE + scripts.FAILING_11 + scripts.ACCEPT
    _, events = run("chain", outputs, chain=NO_FIX)
    assert [(r.normalized, r.verified) for r in of(events, RoundFinished)] == [("9", "pass"), ("11", "fail")]
    (answer,) = of(events, Answer)
    assert answer.normalized == "9" and events[-1].answer == "9"
    first_round_answer_span = [e.span for e in of(events, StepFinished) if e.factor == "answer"][0]
    assert answer.span == first_round_answer_span


def test_a_better_later_round_replaces_a_failed_one():
    outputs = scripts.FAILING_11 + scripts.REVISE + scripts.PASSING + scripts.ACCEPT
    _, events = run("chain", outputs, chain=NO_FIX)
    assert events[-1].answer == "9"


def test_rounds_are_bounded():
    outputs = (scripts.PASSING + scripts.REVISE) * 3
    _, events = run("chain", outputs, rounds=2)
    assert len(of(events, RoundStarted)) == 2 and len(of(events, ReviewVerdict)) == 2


def test_review_off_runs_one_chain_and_no_review():
    backend, events = run("chain", scripts.PASSING + scripts.REVISE, review=False)
    assert len(backend.calls) == 5 and not of(events, ReviewVerdict)
    assert events[-1].answer == "9"


def test_an_unreadable_verdict_counts_as_accept():
    _, events = run("chain", scripts.PASSING + ["maybe", "hmm"])
    (verdict,) = of(events, ReviewVerdict)
    assert verdict.verdict == "accept" and "no readable verdict" in verdict.reasons


# -- vote -----------------------------------------------------------------------------------

def test_vote_groups_equivalent_answers_and_the_majority_wins():
    outputs = scripts.PASSING + scripts.FAILING_11 + scripts.PASSING
    _, events = run("vote", outputs, samples=3, chain=NO_FIX, weighting="count")
    (tally,) = of(events, VoteTally)
    assert [(g["answer"], g["votes"], g["rounds"]) for g in tally.groups] == [("9", 2, [1, 3]), ("11", 1, [2])]
    assert tally.winner == "9" and events[-1].answer == "9" and tally.stopped == "samples"
    assert [c.answer for c in of(events, CandidateScored)] == ["9", "11", "9"]


def test_verifier_weighting_lets_one_checked_answer_beat_two_failed_ones():
    outputs = scripts.FAILING_11 + scripts.FAILING_11 + scripts.PASSING
    _, counted = run("vote", outputs, samples=3, chain=NO_FIX, weighting="count")
    _, weighted = run("vote", outputs, samples=3, chain=NO_FIX, weighting="verifier")
    assert counted[-1].answer == "11"
    assert weighted[-1].answer == "9"
    assert [g["weight"] for g in of(weighted, VoteTally)[0].groups] == [1.5, 1.0]


def test_vote_stops_early_when_the_leader_cannot_be_overtaken():
    backend, events = run("vote", scripts.PASSING * 5, samples=5, weighting="count")
    (tally,) = of(events, VoteTally)
    assert tally.samples == 3 and tally.stopped == "decided" and len(backend.calls) == 15


def test_vote_samples_are_diverse_by_temperature_and_seed_and_share_the_prefix():
    backend, events = run("vote", scripts.PASSING * 2, samples=2, weighting="count", chain=ChainConfig(seed=7))
    firsts = [backend.calls[0], backend.calls[5]]
    assert {c.sampling.temperature for c in firsts} == {0.7}
    assert firsts[0].sampling.seed != firsts[1].sampling.seed
    steps = of(events, StepFinished)
    second_start = steps[5]
    assert second_start.prompt_tokens_evaluated < second_start.prompt_tokens / 10  # the shared prefix is re-used
    usage = events[-1].usage
    assert usage["prompt_tokens_evaluated"] < usage["prompt_tokens_total"]
    assert usage["transcript_tokens_total"] == sum(s.prompt_tokens + s.completion_tokens for s in (steps[4], steps[9]))


def test_rounds_of_a_vote_hang_off_the_run():
    _, events = run("vote", scripts.PASSING * 2, samples=2)
    assert {r.parent for r in of(events, RoundStarted)} == {"run"}
    rounds = {r.span for r in of(events, RoundStarted)}
    assert {c.parent for c in of(events, CandidateScored)} == rounds


# -- best-of-n ------------------------------------------------------------------------------

def test_best_of_n_picks_the_highest_verifier_score():
    outputs = scripts.FAILING_11 + scripts.PASSING + scripts.FAILING_11
    _, events = run("best-of-n", outputs, samples=3, chain=NO_FIX, scorers=("verifier",))
    assert [c.score for c in of(events, CandidateScored)] == [0.0, 1.0, 0.0]
    assert events[-1].answer == "9"


def test_best_of_n_judge_scorer_uses_the_yes_probability_in_a_fresh_context():
    outputs = scripts.PASSING + ["no"] + scripts.FAILING_11 + ["yes"]
    backend, events = run("best-of-n", outputs, samples=2, chain=NO_FIX, scorers=("judge",))
    judge_calls = [c for c in backend.calls if c.sampling.grammar == 'root ::= "yes" | "no"']
    assert len(judge_calls) == 2 and "Is this answer correct?" in judge_calls[0].prompt
    assert [c.scores["judge"] for c in of(events, CandidateScored)] == [pytest.approx(0.1), pytest.approx(0.9)]
    assert events[-1].answer == "11"


def test_scores_combine_by_the_named_rule():
    outputs = scripts.PASSING
    _, mean = run("best-of-n", outputs, samples=1, scorers=("verifier", "confidence"), rule="mean")
    _, product = run("best-of-n", outputs, samples=1, scorers=("verifier", "confidence"), rule="product")
    assert of(mean, CandidateScored)[0].score == pytest.approx((1.0 + 0.9) / 2)
    assert of(product, CandidateScored)[0].score == pytest.approx(0.9)


# -- budget -----------------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["vote", "best-of-n"])
def test_samples_budget_stops_sampling(strategy):
    _, events = run(strategy, scripts.PASSING * 5, samples=5, weighting="count", budget=Budget(samples=2))
    assert len(of(events, RoundStarted)) == 2 and events[-1].answer == "9"


@pytest.mark.parametrize("strategy", ["chain", "vote", "best-of-n"])
def test_token_budget_is_never_exceeded_and_an_answer_is_kept(strategy):
    outputs = (scripts.PASSING + scripts.REVISE) * 6
    _, events = run(strategy, outputs, samples=6, rounds=6, budget=Budget(tokens=200))
    assert events[-1].usage["completion_tokens"] <= 200
    assert 1 <= len(of(events, RoundStarted)) < 6
    assert events[-1].answer == "9"


def test_seconds_budget_starts_no_new_chain():
    _, events = run("vote", scripts.PASSING * 3, samples=3, budget=Budget(seconds=0.0))
    assert len(of(events, RoundStarted)) == 1 and of(events, VoteTally)[0].stopped == "budget"
    assert events[-1].answer == "9"


def test_every_strategy_ends_with_answer_and_run_finished():
    for name in STRATEGIES:
        _, events = run(name, scripts.REVIEWED * 5, samples=2)
        assert isinstance(events[-1], RunFinished) and isinstance(events[-2], Answer)
        assert events[0].strategy == name



def test_an_answer_a_check_computed_is_not_replaced_by_an_unchecked_one():
    from ponder.agent.chain import ChainResult
    from ponder.agent.review_loop import better
    from ponder.agent.rounds import Review, Sample
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


def test_the_review_of_a_computed_answer_reads_the_computation_as_evidence():
    backend, events = run("chain", scripts.STUBBORN + scripts.ACCEPT)
    review_prompt = [c for c in backend.calls if c.sampling.grammar][0].prompt
    assert "Proposed answer: 9" in review_prompt and "Check outcome: pass" in review_prompt
    assert "The code computed 9 straight from the question's numbers" in review_prompt
    assert "candidate answer was 11" not in review_prompt
