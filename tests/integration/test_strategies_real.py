"""Every strategy on the real default model, tiny: a one-line sum, two or three samples, few tokens.
Asserts structure (events, a non-empty answer, the budget), never the model's exact text."""

from __future__ import annotations

import pytest

from ponder.agent.settings import Budget, ChainConfig, RunConfig
from ponder.agent.strategies import STRATEGIES
from ponder.trace.events import (
    Answer, CandidateScored, FactorChoice, ReviewVerdict, RoundFinished, RoundStarted, RunFinished, SearchNode,
    StepFinished, StepStarted, ToolCall, ToolResult, VoteTally,
)

QUESTION = "What is 9 + 10?"
BUDGET = 700


def run(llama, name, **config):
    settings = {"chain": ChainConfig(max_tokens=200, seed=1), "samples": 2, "budget": Budget(tokens=BUDGET), **config}
    search = RunConfig(**settings)
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
    # the samples share the system and question prefix: side by side, one evaluates it, the other copies it
    firsts = [e for e in events if isinstance(e, StepFinished) and e.factor == "restate"]
    if len(firsts) == 2:
        assert min(f.prompt_tokens_evaluated for f in firsts) < firsts[0].prompt_tokens / 2


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


def check_tree(events):
    """A search's steps hang off the step they extend (or the search round), and every step
    has its SearchNode record; the tree's unique tokens are reported."""
    rounds = check_common(events, events[0].strategy)
    assert len(rounds) == 1
    starts = [e for e in events if isinstance(e, StepStarted)]
    known = {rounds[0].span} | {s.span for s in starts}
    assert all(s.parent in known for s in starts)
    nodes = {n.span: n for n in events if isinstance(n, SearchNode)}
    assert {s.span for s in starts} <= set(nodes)
    assert events[-1].usage["search_tree_tokens"] == sum(n.tokens for n in nodes.values())
    return starts, nodes


def test_beam_on_the_real_model(llama):
    events = run(llama, "beam", width=2, expansions=2)
    starts, nodes = check_tree(events)
    restates = [s for s in starts if s.factor == "restate"]
    assert len(restates) == 2 and any(n.kept for n in nodes.values())


def test_mcts_on_the_real_model(llama):
    events = run(llama, "mcts", samples=3, expansions=2)
    starts, nodes = check_tree(events)
    root = next(n for n in nodes.values() if n.parent == "run")
    assert 1 <= root.visits <= 3
    for choice in [e for e in events if isinstance(e, FactorChoice)]:
        assert abs(sum(choice.priors.values()) - 1.0) < 1e-3
        assert min(choice.priors.values()) >= 0.25 / len(choice.priors) - 1e-3


def test_cascade_on_the_real_model(llama):
    events = run(llama, "cascade", samples=4)
    rounds = check_common(events, "cascade")
    (tally,) = [e for e in events if isinstance(e, VoteTally)]
    assert tally.samples == len(rounds) and 2 <= len(rounds) <= 4
    assert tally.stopped in ("agreed", "decided", "samples", "budget")
    steps = {e.factor for e in events if isinstance(e, StepStarted)}
    assert steps == {"hypothesize", "verify"}  # a chain of thought and a program, nothing else
    programs = [e for e in events if isinstance(e, StepFinished) and e.factor == "verify"]
    assert programs and all(p.text.startswith("```python") for p in programs)
    if tally.stopped == "agreed":
        assert len(rounds) == 2 and tally.winner == "19"


def test_cascade_answers_words_with_the_chain_and_a_printed_false_agrees_with_no(llama):
    """A question answered in words stops after the first wave, here agreeing with the program's
    printed Paris (a few printed words are a program's answer); a program's True/False is a truth value."""
    config = RunConfig(chain=ChainConfig(max_tokens=400, seed=1), samples=6, budget=Budget(tokens=1200))
    outcomes = {}
    for question in ("What is the capital of France?", "Is 91 a prime number?"):
        events = list(STRATEGIES["cascade"](llama, question, config, run_id="it", model="default"))
        (tally,) = [e for e in events if isinstance(e, VoteTally)]
        outcomes[question] = (events[-1].answer, tally.stopped, tally.samples)
    assert outcomes == {"What is the capital of France?": ("paris", "agreed", 2),
                        "Is 91 a prime number?": ("no", "agreed", 2)}


def test_cascade_answers_a_poem_with_the_poem_not_a_step_number(llama):
    """A chain with no number, to a question in words, is its own answer: the run stops after one wave."""
    config = RunConfig(chain=ChainConfig(max_tokens=400, seed=1), samples=6, budget=Budget(tokens=1200))
    events = list(STRATEGIES["cascade"](llama, "Write a haiku about autumn.", config, run_id="it", model="default"))
    (tally,) = [e for e in events if isinstance(e, VoteTally)]
    answer = events[-1].answer
    assert (tally.stopped, tally.samples) == ("words", 2)
    assert "autumn" in answer and not any(ch.isdigit() for ch in answer), answer


def test_cascade_reads_a_quadratics_irrational_roots_as_one_set_from_the_chain_and_the_program(llama):
    """The chain's 1 ± sqrt(2) and the sympy program's printed list are the same set: one wave."""
    config = RunConfig(chain=ChainConfig(max_tokens=450, seed=1), samples=6, budget=Budget(tokens=1500))
    events = list(STRATEGIES["cascade"](llama, "Solve x^2 - 2x - 1 = 0", config, run_id="it", model="default"))
    (tally,) = [e for e in events if isinstance(e, VoteTally)]
    printed = [e.output for e in events if isinstance(e, ToolResult)]
    assert (events[-1].answer, tally.stopped, tally.samples) == ("1+sqrt(2), 1-sqrt(2)", "agreed", 2), printed


def test_cascade_asks_a_question_with_a_formula_for_a_sympy_program_that_agrees_with_the_chain(llama):
    """The program prompt asks for sympy (it used to ask for a number, and the program failed on x)."""
    config = RunConfig(chain=ChainConfig(max_tokens=450, seed=1), samples=6, budget=Budget(tokens=1500))
    events = list(STRATEGIES["cascade"](llama, "Simplify (x^2 - 1)/(x - 1)", config, run_id="it", model="default"))
    (tally,) = [e for e in events if isinstance(e, VoteTally)]
    printed = [(e.output, e.error[-200:]) for e in events if isinstance(e, ToolResult)]
    assert (events[-1].answer, tally.stopped, tally.samples) == ("x+1", "agreed", 2), printed


def test_cascade_reads_a_systems_solution_as_one_pair_from_the_chain_and_the_program(llama):
    """The chain's boxed (7, 3) and the sympy program's printed {x: 7, y: 3} are one tuple: one wave
    (the program's dict was read as its last number, 3, and the run sampled on to six routes)."""
    config = RunConfig(chain=ChainConfig(max_tokens=450, seed=1), samples=6, budget=Budget(tokens=1500))
    events = list(STRATEGIES["cascade"](llama, "Solve the system x + y = 10 and x - y = 4.", config,
                                        run_id="it", model="default"))
    (tally,) = [e for e in events if isinstance(e, VoteTally)]
    printed = [e.output for e in events if isinstance(e, ToolResult)]
    assert (events[-1].answer, tally.stopped, tally.samples) == ("(7,3)", "agreed", 2), printed


def test_cascade_asks_which_of_two_numbers_for_the_number_and_both_routes_agree(llama):
    """Asked for "a number", the program printed 3/7 > 5/11 (False) and the run voted over six
    routes; asked for the number it chooses, it prints 5/11 and agrees with the chain in one wave."""
    config = RunConfig(chain=ChainConfig(max_tokens=450, seed=1), samples=6, budget=Budget(tokens=1500))
    events = list(STRATEGIES["cascade"](llama, "Which is larger, 3/7 or 5/11?", config, run_id="it", model="default"))
    (tally,) = [e for e in events if isinstance(e, VoteTally)]
    printed = [e.output for e in events if isinstance(e, ToolResult)]
    assert (events[-1].answer, tally.stopped, tally.samples) == ("5/11", "agreed", 2), printed
    assert not any(out.strip() in ("True", "False") for out in printed)


def test_cascade_repairs_a_program_that_forgot_its_import_and_both_routes_agree(llama):
    """The greedy program calls gcd without importing it (it does on the default model); the
    repair runs it again with `from math import gcd`, and it agrees with the chain in one wave."""
    config = RunConfig(chain=ChainConfig(max_tokens=450, seed=1), samples=6, budget=Budget(tokens=1500))
    question = "What is the least common multiple of 4, 6 and 10?"
    events = list(STRATEGIES["cascade"](llama, question, config, run_id="it", model="default"))
    (tally,) = [e for e in events if isinstance(e, VoteTally)]
    calls = [e.input for e in events if isinstance(e, ToolCall)]
    errors = [e.error for e in events if isinstance(e, ToolResult)]
    assert (events[-1].answer, tally.stopped, tally.samples) == ("60", "agreed", 2), errors
    assert any(code.startswith("from math import gcd\n") for code in calls), calls


def test_cascade_answers_an_amount_for_each_when_the_program_printed_one_of_them(llama):
    """Asked how much each gets, the greedy chain boxes Tom's 40 and Ann's 60 on its last line
    and the greedy program prints Ann's 60 alone (they do on the default model): one wave, both amounts."""
    config = RunConfig(chain=ChainConfig(max_tokens=450, seed=1), samples=6, budget=Budget(tokens=1500))
    question = "Tom and Ann share $100 in the ratio 2:3. How much does each get?"
    events = list(STRATEGIES["cascade"](llama, question, config, run_id="it", model="default"))
    (tally,) = [e for e in events if isinstance(e, VoteTally)]
    assert (events[-1].answer, tally.stopped, tally.samples) == ("40, 60", "covered", 2), tally.groups
