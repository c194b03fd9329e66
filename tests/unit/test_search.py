"""The search strategies (beam, mcts) on the fake backend: tree shape, pruning, priors,
backpropagation, budgets, early stop and KV re-use."""

import pytest

from ponder.agent.settings import Budget
from ponder.trace.events import (
    Answer, CandidateScored, FactorChoice, RunFinished, SearchNode, StepFinished, StepStarted, VoteTally,
)
from ponder.trace.tree import fold
from tests.unit import scripts

PASS_ALL = scripts.PASSING | {"correct": scripts.RIGHT}


@pytest.fixture
def search(think):
    """`search(strategy, says=PASS_ALL, chooser=None, **settings)` -> Thought."""
    return lambda strategy, says=PASS_ALL, chooser=None, **settings: think(strategy, says, chooser=chooser, **settings)


def parents(run):
    return {e.span: e.parent for e in run.of(StepStarted)}


# -- beam -----------------------------------------------------------------------------------

def test_beam_expands_each_path_and_keeps_width_open_paths(search):
    run = search("beam", width=2, expansions=2)
    steps = run.of(StepStarted)
    by_factor_count = {f: sum(1 for s in steps if s.factor == f) for f in ("restate", "decompose", "hypothesize", "answer")}
    # restate: 2 from the root; each later step: 2 kept paths x 2 versions; one answer per kept path
    assert by_factor_count == {"restate": 2, "decompose": 4, "hypothesize": 4, "answer": 2}
    assert run.events[-1].answer == "9"


def test_beam_steps_hang_off_the_step_they_extend(search):
    run = search("beam", width=1, expansions=2)
    links = parents(run)
    factor = {e.span: e.factor for e in run.of(StepStarted)}
    for span, parent in links.items():
        if factor[span] != "restate":
            assert factor[parent] in ("restate", "decompose", "hypothesize", "verify", "correct")
    tree = fold(run.events)
    search_round = tree.children[0]
    assert [c.label for c in search_round.children if c.kind == "step"] == ["restate", "restate"]


def test_beam_first_version_is_greedy_and_the_others_sampled_with_distinct_seeds(search):
    run = search("beam", width=1, expansions=3, sample_temperature=0.7)
    restates = [c.sampling for c in run.backend.asked("restate")]
    assert [s.temperature for s in restates] == [0.0, 0.7, 0.7]
    assert len({s.seed for s in restates}) == 3


def test_beam_prunes_paths_whose_check_failed(search):
    says = PASS_ALL | dict(hypothesize=[scripts.WRONG, scripts.RIGHT], correct=[scripts.WRONG])
    run = search("beam", says, width=2, expansions=2)
    verifies = [e for e in run.of(StepFinished) if e.factor == "verify"]
    assert {v.outcome for v in verifies} == {"pass", "fail"}
    kept = {n.span for n in run.of(SearchNode) if n.kept}
    for v in verifies:
        assert (v.span in kept) == (v.outcome == "pass")
    assert run.events[-1].answer == "9"
    assert not [e for e in run.of(StepFinished) if e.factor == "correct"]


def test_beam_answer_is_the_score_weighted_vote_of_its_leaves(search):
    says = PASS_ALL | dict(answer=["9", "11"])
    run = search("beam", says, width=2, expansions=2)
    tally = run.of(VoteTally)[0]
    assert tally.samples == 2 and {g["answer"] for g in tally.groups} == {"9", "11"}
    assert len(run.of(CandidateScored)) == 2


# -- mcts -----------------------------------------------------------------------------------

def prefer(name):
    """A chooser that puts all the model's probability on the tag of `name`."""
    return lambda prompt, options: [1.0 if o == f"<{name}>" else 0.0 for o in options]


def test_mcts_first_rollout_is_the_greedy_chain_and_each_iteration_adds_a_path(search):
    run = search("mcts", PASS_ALL | dict(answer=["9", "11", "13"]), samples=3, expansions=2)
    nodes = run.of(SearchNode)
    root = next(n for n in nodes if n.parent == "run")
    assert root.visits == 3
    first_path = [c.sampling.temperature for c in run.backend.calls[:5]]
    assert first_path == [0.0] * 5 and [c.purpose for c in run.backend.calls[:5]] == run.factors[:5]
    assert len(run.of(StepFinished)) > 5


def test_mcts_priors_come_from_the_models_choice_of_tag(search):
    says = PASS_ALL | dict(answer=["9", "11", "13", "15"])
    run = search("mcts", says, chooser=prefer("hypothesize"), samples=4, expansions=2)
    choices = run.of(FactorChoice)
    assert choices and all(abs(sum(c.priors.values()) - 1.0) < 1e-3 for c in choices)
    after_restate = next(c for c in choices if set(c.priors) == {"decompose", "hypothesize"})
    assert after_restate.priors["hypothesize"] == pytest.approx(0.875)
    assert run.backend.choices and all(opt.startswith("<") for _, opts in run.backend.choices for opt in opts)
    links, factor = parents(run), {e.span: e.factor for e in run.of(StepStarted)}
    grown = [s for s, p in links.items() if p == after_restate.span]
    assert sorted(factor[s] for s in grown) == ["decompose", "hypothesize"]


def test_mcts_backpropagates_visits_and_values_up_the_tree(search):
    run = search("mcts", PASS_ALL | dict(answer=["9", "11", "13", "15"]), samples=4, expansions=2)
    nodes = {n.span: n for n in run.of(SearchNode)}
    for node in nodes.values():
        below = [c for c in nodes.values() if c.parent == node.span]
        if below and not node.factor == "answer":
            assert node.visits >= sum(c.visits for c in below)
        assert 0.0 <= node.value <= 1.0


def test_mcts_stops_early_when_the_leaves_agree(search):
    run = search("mcts", samples=8, expansions=3)
    tally = run.of(VoteTally)[0]
    assert tally.stopped == "decided" and tally.winner == "9"
    root = next(n for n in run.of(SearchNode) if n.parent == "run")
    assert root.visits < 8


def test_mcts_prefers_the_branch_whose_check_passed(search):
    broken = [scripts.BROKEN_CHECK] * 3 + [scripts.CHECK]
    says = PASS_ALL | dict(hypothesize=[scripts.WRONG, scripts.RIGHT], correct=[scripts.WRONG], verify=broken,
                   answer=["11", "9"])
    run = search("mcts", says, samples=6, expansions=2)
    leaves = {c.answer: c.score for c in run.of(CandidateScored)}
    assert leaves["11"] < leaves["9"]
    assert run.events[-1].answer == "9"


# -- both -----------------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["beam", "mcts"])
def test_one_sample_as_the_cli_gives_it_is_one_whole_search_not_one_step(search, strategy):
    run = search(strategy, samples=1, width=2, expansions=2, budget=Budget(samples=1))  # `-n 1`: the CLI's budget too
    assert run.factors[0] == "restate" and run.factors[-1] == "answer" and "hypothesize" in run.factors
    assert run.of(VoteTally)[0].stopped != "budget" and run.answer == "9"


@pytest.mark.parametrize("strategy, width, expansions", [("beam", 2, 2), ("beam", 1, 3), ("mcts", 2, 2)])
def test_a_search_counts_each_path_to_a_leaf_as_one_transcript(search, strategy, width, expansions):
    run = search(strategy, samples=3, width=width, expansions=expansions)  # beam 1 x 3: first steps pruned, leaves of the round
    steps = {e.span: e for e in run.of(StepFinished)}
    extended = {e.parent for e in run.of(StepStarted)}
    leaves = [s for span, s in steps.items() if span not in extended]
    assert len(leaves) >= 2
    assert run.events[-1].usage["transcript_tokens_total"] == sum(s.prompt_tokens + s.completion_tokens for s in leaves)


@pytest.mark.parametrize("strategy", ["beam", "mcts"])
def test_search_stays_inside_its_token_budget_and_keeps_an_answer(search, strategy):
    run = search(strategy, samples=8, width=3, expansions=3, budget=Budget(tokens=120))
    assert run.events[-1].usage["completion_tokens"] <= 120
    assert isinstance(run.events[-2], Answer) and run.events[-1].answer


@pytest.mark.parametrize("strategy", ["beam", "mcts"])
def test_search_reports_its_unique_tokens_and_reuses_shared_prefixes(search, strategy):
    run = search(strategy, samples=4, width=2, expansions=2)
    usage = run.events[-1].usage
    assert usage["search_tree_tokens"] > 0
    assert usage["prompt_tokens_evaluated"] <= usage["search_tree_tokens"] < usage["prompt_tokens_total"]


@pytest.mark.parametrize("strategy", ["beam", "mcts"])
def test_search_tree_folds_with_a_node_record_for_every_step(search, strategy):
    run = search(strategy, samples=3)
    steps = {e.span for e in run.of(StepStarted)}
    recorded = {n.span for n in run.of(SearchNode)}
    assert steps <= recorded and isinstance(run.events[-1], RunFinished)
    tree = fold(run.events)
    assert {n.span for n in tree.walk() if n.kind == "step"} == steps
