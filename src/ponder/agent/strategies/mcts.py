"""The `mcts` strategy: Monte Carlo tree search whose actions are thought factors.

Each iteration selects a node by PUCT, grows one new child there (a sampled step of a legal
next factor), rolls the guided chain out from it to an answer, and backs the answer's score
up the path. Every rollout step stays in the tree, so later iterations can branch from any
point of an earlier chain and share its prefix.

Rules that must hold:
- The prior of a factor is the model's own probability of writing its opening tag next
  (`Backend.choose`, every legal tag scored), mixed with a uniform share `PRIOR_MIX` so no
  legal factor is ruled out; it is asked once per node and recorded as a FactorChoice.
  Siblings of one factor split that factor's prior.
- Selection at a node compares its children (PUCT: value + c * prior * sqrt(N) / (1 + n))
  with growing a new child (the node's value less `FIRST_PLAY_PENALTY`, with the prior the
  next child of the most-deserving factor would get), while the node has fewer than
  `expansions` children. Finished leaves are never selected again; a node with nothing left
  to select is exhausted and skipped.
- The value of a path is its leaf's score (verifier outcome and token confidence by default);
  the first rollout keeps the chain's own temperature, so the greedy chain is in the tree.
- `samples` bounds the iterations; the budget is checked before each and every step. The
  search stops early once the score-weighted vote of the finished leaves cannot change
  with the iterations left (each leaf weighs at most 1).
"""

from __future__ import annotations

import math
from typing import Generator

from ponder.agent.engine.scaffold import RunScaffold, StrategyBody
from ponder.agent.settings import RunConfig
from ponder.agent.strategies._registry import register
from ponder.agent.strategies._tally import decided, same_answers, tally
from ponder.agent.strategies._tree import SearchTree, TreeNode
from ponder.thought_factors.catalogue import Factor
from ponder.trace.events import Event, FactorChoice

PRIOR_MIX = 0.25
FIRST_PLAY_PENALTY = 0.2


@register("mcts", "tree search over thought factors, priors from the model (--samples, --expansions)",
          scored=True)
def mcts(run: RunScaffold) -> StrategyBody:
    """Answer by MCTS over thought-factor steps."""
    tree = SearchTree(run)
    same = same_answers(run.question)
    root = yield from tree.open()
    stopped = "samples"
    for iteration in range(max(1, run.config.samples)):
        if iteration > 0 and run.meter.stop_reason(samples=False):
            stopped = "budget"
            break
        path = select(root, run.config)
        if path is None:
            stopped = "exhausted"
            break
        node = path[-1]
        factor = yield from _pick_factor(tree, node)
        child = yield from tree.grow(node, factor, greedy=iteration == 0)
        _split_prior(node, factor.name)
        rollout = yield from tree.guided(child, greedy=iteration == 0)
        path += [child] + rollout
        backpropagate(path, path[-1].score)
        left = run.config.samples - iteration - 1
        if left > 0 and decided(tally(tree.leaf_votes(), same), left, 1.0):
            stopped = "decided"
            break
    return (yield from tree.conclude(stopped))


def select(root: TreeNode, config: RunConfig) -> list[TreeNode] | None:
    """The path from the root to the node that grows a new child (None: nothing is left)."""
    path = [root]
    node = root
    while True:
        options = [c for c in node.children if _selectable(c, config)]
        best = max(options, key=lambda c: puct(c, node, config.exploration), default=None)
        if _can_grow(node, config) and (best is None or _grow_value(node, config) >= puct(best, node, config.exploration)):
            return path
        if best is None:
            return None  # only the root gets here: every path below it is finished
        node = best
        path.append(node)


def puct(child: TreeNode, parent: TreeNode, exploration: float) -> float:
    """PUCT: the child's mean value plus its prior-weighted exploration bonus."""
    return child.value + exploration * child.prior * math.sqrt(max(1, parent.visits)) / (1 + child.visits)


def backpropagate(path: list[TreeNode], value: float) -> None:
    """Add one visit with `value` to every node on the path."""
    for node in path:
        node.visits += 1
        node.value_sum += value


def _grow_value(node: TreeNode, config: RunConfig) -> float:
    prior = _next_prior(node)
    return node.value - FIRST_PLAY_PENALTY + config.exploration * prior * math.sqrt(max(1, node.visits))


def _can_grow(node: TreeNode, config: RunConfig) -> bool:
    return not node.finished and len(node.children) < max(1, config.expansions)


def _selectable(node: TreeNode, config: RunConfig) -> bool:
    """Whether selection may still descend into `node`: open, and something below it to grow."""
    if node.finished:
        return False
    return _can_grow(node, config) or any(_selectable(c, config) for c in node.children)


def _pick_factor(tree: SearchTree, node: TreeNode) -> Generator[Event, None, Factor]:
    """The legal factor whose next child deserves the most prior; asks the model once per node."""
    legal = node.state.legal_next()
    if node.priors is None:
        node.priors = yield from _priors(tree, node, legal)
    counts = _factor_counts(node)
    return max(legal, key=lambda f: (node.priors[f.name] / (1 + counts.get(f.name, 0)), -legal.index(f)))


def _priors(tree: SearchTree, node: TreeNode, legal: list[Factor]) -> Generator[Event, None, dict[str, float]]:
    if len(legal) == 1:
        return {legal[0].name: 1.0}
    run = tree.run
    chosen = run.backend.choose(node.state.transcript, [f.open_tag for f in legal])
    priors = {f.name: round((1 - PRIOR_MIX) * p + PRIOR_MIX / len(legal), 4) for f, p in zip(legal, chosen)}
    yield FactorChoice(run.run_id, span=node.span, priors=priors)
    return priors


def _factor_counts(node: TreeNode) -> dict[str, int]:
    counts: dict[str, int] = {}
    for child in node.children:
        counts[child.factor] = counts.get(child.factor, 0) + 1
    return counts


def _next_prior(node: TreeNode) -> float:
    """The prior a new child of `node` would get (1 before the node's priors are known)."""
    if node.priors is None:
        return 1.0
    counts = _factor_counts(node)
    return max(p / (1 + counts.get(name, 0)) for name, p in node.priors.items())


def _split_prior(node: TreeNode, factor: str) -> None:
    """Share the factor's prior equally among the node's children of that factor."""
    siblings = [c for c in node.children if c.factor == factor]
    for child in siblings:
        child.prior = (node.priors or {}).get(factor, 1.0) / len(siblings)
