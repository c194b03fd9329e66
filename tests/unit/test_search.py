"""The search strategies (beam, mcts) on the fake backend: tree shape, pruning, priors,
backpropagation, budgets, early stop and KV re-use."""

import re

import pytest

from ponder.agent.budget import Budget
from ponder.agent.config import SearchConfig
from ponder.agent.strategies import STRATEGIES
from ponder.llm.fake import FakeBackend
from ponder.trace.events import (
    Answer, CandidateScored, FactorChoice, RunFinished, SearchNode, StepFinished, StepStarted, VoteTally,
)
from ponder.trace.tree import fold
from tests.unit import scripts

QUESTION = "What is 16 - 3 - 4?"
_OPEN = re.compile(r"<(restate|decompose|hypothesize|verify|correct|answer)>")


def by_factor(**replies):
    """A script that answers each step by the factor it opens: replies[factor] in turn, the
    last one repeating."""
    counts: dict[str, int] = {}

    def reply(prompt: str) -> str:
        factor = _OPEN.findall(prompt)[-1]
        options = replies.get(factor, [""])
        index = counts.get(factor, 0)
        counts[factor] = index + 1
        return options[min(index, len(options) - 1)]

    return reply


PASS_ALL = dict(restate=[scripts.RESTATE], decompose=[scripts.DECOMPOSE], hypothesize=[scripts.RIGHT],
                verify=[scripts.CHECK], correct=[scripts.RIGHT], answer=[scripts.ANSWER_9])


def run(strategy, replies=PASS_ALL, chooser=None, **config):
    backend = FakeBackend([by_factor(**replies)], cycle=True, chooser=chooser)
    events = list(STRATEGIES[strategy](backend, QUESTION, SearchConfig(**config), run_id="r", model="fake"))
    return backend, events


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def parents(events):
    return {e.span: e.parent for e in of(events, StepStarted)}


# -- beam -----------------------------------------------------------------------------------

def test_beam_expands_each_path_and_keeps_width_open_paths():
    backend, events = run("beam", width=2, expansions=2)
    steps = of(events, StepStarted)
    by_factor_count = {f: sum(1 for s in steps if s.factor == f) for f in ("restate", "decompose", "hypothesize", "answer")}
    # restate: 2 from the root; each later step: 2 kept paths x 2 versions; one answer per kept path
    assert by_factor_count == {"restate": 2, "decompose": 4, "hypothesize": 4, "answer": 2}
    assert events[-1].answer == "9"


def test_beam_steps_hang_off_the_step_they_extend():
    _, events = run("beam", width=1, expansions=2)
    links = parents(events)
    factor = {e.span: e.factor for e in of(events, StepStarted)}
    for span, parent in links.items():
        if factor[span] != "restate":
            assert factor[parent] in ("restate", "decompose", "hypothesize", "verify", "correct")
    tree = fold(events)
    search_round = tree.children[0]
    assert [c.label for c in search_round.children if c.kind == "step"] == ["restate", "restate"]


def test_beam_first_version_is_greedy_and_the_others_sampled_with_distinct_seeds():
    backend, _ = run("beam", width=1, expansions=3, sample_temperature=0.7)
    restates = [c.sampling for c in backend.calls if _OPEN.findall(c.prompt)[-1] == "restate"]
    assert [s.temperature for s in restates] == [0.0, 0.7, 0.7]
    assert len({s.seed for s in restates}) == 3


def test_beam_prunes_paths_whose_check_failed():
    replies = dict(PASS_ALL, hypothesize=[scripts.WRONG, scripts.RIGHT], correct=[scripts.WRONG])
    _, events = run("beam", replies, width=2, expansions=2)
    verifies = [e for e in of(events, StepFinished) if e.factor == "verify"]
    assert {v.outcome for v in verifies} == {"pass", "fail"}
    kept = {n.span for n in of(events, SearchNode) if n.kept}
    for v in verifies:
        assert (v.span in kept) == (v.outcome == "pass")
    assert events[-1].answer == "9"
    assert not [e for e in of(events, StepFinished) if e.factor == "correct"]


def test_beam_answer_is_the_score_weighted_vote_of_its_leaves():
    replies = dict(PASS_ALL, answer=["9", "11"])
    _, events = run("beam", replies, width=2, expansions=2)
    tally = of(events, VoteTally)[0]
    assert tally.samples == 2 and {g["answer"] for g in tally.groups} == {"9", "11"}
    assert len(of(events, CandidateScored)) == 2


# -- mcts -----------------------------------------------------------------------------------

def prefer(name):
    """A chooser that puts all the model's probability on the tag of `name`."""
    return lambda prompt, options: [1.0 if o == f"<{name}>" else 0.0 for o in options]


def test_mcts_first_rollout_is_the_greedy_chain_and_each_iteration_adds_a_path():
    backend, events = run("mcts", dict(PASS_ALL, answer=["9", "11", "13"]), samples=3, expansions=2)
    nodes = of(events, SearchNode)
    root = next(n for n in nodes if n.parent == "run")
    assert root.visits == 3
    first_path = [c.sampling.temperature for c in backend.calls[:5]]
    assert first_path == [0.0] * 5
    assert len(of(events, StepFinished)) > 5


def test_mcts_priors_come_from_the_models_choice_of_tag():
    replies = dict(PASS_ALL, answer=["9", "11", "13", "15"])
    backend, events = run("mcts", replies, chooser=prefer("hypothesize"), samples=4, expansions=2)
    choices = of(events, FactorChoice)
    assert choices and all(abs(sum(c.priors.values()) - 1.0) < 1e-3 for c in choices)
    after_restate = next(c for c in choices if set(c.priors) == {"decompose", "hypothesize"})
    assert after_restate.priors["hypothesize"] == pytest.approx(0.875)
    assert backend.choices and all(opt.startswith("<") for _, opts in backend.choices for opt in opts)
    links, factor = parents(events), {e.span: e.factor for e in of(events, StepStarted)}
    grown = [s for s, p in links.items() if p == after_restate.span]
    assert sorted(factor[s] for s in grown) == ["decompose", "hypothesize"]


def test_mcts_backpropagates_visits_and_values_up_the_tree():
    _, events = run("mcts", dict(PASS_ALL, answer=["9", "11", "13", "15"]), samples=4, expansions=2)
    nodes = {n.span: n for n in of(events, SearchNode)}
    for node in nodes.values():
        below = [c for c in nodes.values() if c.parent == node.span]
        if below and not node.factor == "answer":
            assert node.visits >= sum(c.visits for c in below)
        assert 0.0 <= node.value <= 1.0


def test_mcts_stops_early_when_the_leaves_agree():
    _, events = run("mcts", samples=8, expansions=3)
    tally = of(events, VoteTally)[0]
    assert tally.stopped == "decided" and tally.winner == "9"
    root = next(n for n in of(events, SearchNode) if n.parent == "run")
    assert root.visits < 8


def test_mcts_prefers_the_branch_whose_check_passed():
    broken = [scripts.BROKEN_CHECK] * 3 + [scripts.CHECK]
    replies = dict(PASS_ALL, hypothesize=[scripts.WRONG, scripts.RIGHT], correct=[scripts.WRONG], verify=broken,
                   answer=["11", "9"])
    _, events = run("mcts", replies, samples=6, expansions=2)
    leaves = {c.answer: c.score for c in of(events, CandidateScored)}
    assert leaves["11"] < leaves["9"]
    assert events[-1].answer == "9"


# -- both -----------------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["beam", "mcts"])
def test_search_stays_inside_its_token_budget_and_keeps_an_answer(strategy):
    _, events = run(strategy, samples=8, width=3, expansions=3, budget=Budget(tokens=120))
    assert events[-1].usage["completion_tokens"] <= 120
    assert isinstance(events[-2], Answer) and events[-1].answer


@pytest.mark.parametrize("strategy", ["beam", "mcts"])
def test_search_reports_its_unique_tokens_and_reuses_shared_prefixes(strategy):
    _, events = run(strategy, samples=4, width=2, expansions=2)
    usage = events[-1].usage
    assert usage["search_tree_tokens"] > 0
    assert usage["prompt_tokens_evaluated"] <= usage["search_tree_tokens"] < usage["prompt_tokens_total"]


@pytest.mark.parametrize("strategy", ["beam", "mcts"])
def test_search_tree_folds_with_a_node_record_for_every_step(strategy):
    _, events = run(strategy, samples=3)
    steps = {e.span for e in of(events, StepStarted)}
    recorded = {n.span for n in of(events, SearchNode)}
    assert steps <= recorded and isinstance(events[-1], RunFinished)
    tree = fold(events)
    assert {n.span for n in tree.walk() if n.kind == "step"} == steps
