"""Every strategy on the real default model, tiny: a one-line sum, two samples, few tokens.
Asserts structure (events, a non-empty answer, the budget), never the model's exact text."""

from __future__ import annotations

import pytest

from ponder.agent.budget import Budget
from ponder.agent.chain import ChainConfig
from ponder.agent.config import SearchConfig
from ponder.agent.strategies import STRATEGIES
from ponder.trace.events import (
    Answer, CandidateScored, ReviewVerdict, RoundFinished, RoundStarted, RunFinished, StepFinished, VoteTally,
)

QUESTION = "What is 9 + 10?"
BUDGET = 700


def run(llama, name, **config):
    search = SearchConfig(chain=ChainConfig(max_tokens=200, seed=1), samples=2, budget=Budget(tokens=BUDGET), **config)
    return list(STRATEGIES[name](llama, QUESTION, search, run_id="it", model="default"))


def check_common(events, name):
    assert events[0].strategy == name
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.status == "ok" and finished.answer
    assert any(isinstance(e, Answer) and e.normalized for e in events)
    assert finished.usage["completion_tokens"] <= BUDGET
    assert finished.usage["prompt_tokens_evaluated"] <= finished.usage["prompt_tokens_total"]
    rounds = [e for e in events if isinstance(e, RoundStarted)]
    assert rounds and {r.parent for r in rounds} == {"run"}
    assert len([e for e in events if isinstance(e, RoundFinished)]) == len(rounds)
    return rounds


def test_chain_with_review_on_the_real_model(llama):
    events = run(llama, "chain", rounds=2)
    rounds = check_common(events, "chain")
    verdicts = [e for e in events if isinstance(e, ReviewVerdict)]
    assert verdicts and all(v.verdict in ("accept", "revise") for v in verdicts)
    assert 1 <= len(rounds) <= 2
    if verdicts[0].verdict == "accept":
        assert len(rounds) == 1
    review = [e for e in events if isinstance(e, StepFinished) and e.factor == "review"][0]
    assert review.text.startswith("Verdict: ") and ("ACCEPT" in review.text or "REVISE" in review.text)


def test_vote_on_the_real_model(llama):
    events = run(llama, "vote")
    rounds = check_common(events, "vote")
    (tally,) = [e for e in events if isinstance(e, VoteTally)]
    assert tally.samples == len(rounds) <= 2
    assert len([e for e in events if isinstance(e, CandidateScored)]) == len(rounds)
    # the samples share the system and question prefix: the second evaluates far less than its prompt
    firsts = [e for e in events if isinstance(e, StepFinished) and e.factor == "restate"]
    if len(firsts) == 2:
        assert firsts[1].prompt_tokens_evaluated < firsts[1].prompt_tokens / 2


@pytest.mark.parametrize("scorers", [("verifier", "confidence", "judge")])
def test_best_of_n_on_the_real_model(llama, scorers):
    events = run(llama, "best-of-n", scorers=scorers)
    rounds = check_common(events, "best-of-n")
    scored = [e for e in events if isinstance(e, CandidateScored)]
    assert len(scored) == len(rounds)
    for candidate in scored:
        assert set(candidate.scores) == set(scorers) and 0.0 <= candidate.score <= 1.0
    judged = [e for e in events if isinstance(e, StepFinished) and e.factor == "judge"]
    assert judged and all(j.text in ("yes", "no") for j in judged)
