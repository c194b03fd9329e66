"""The `beam` strategy: step-level beam search over factor steps.

Every open path takes its next factor from the catalogue (as the guided chain would) and
samples `expansions` versions of that step; of all the new steps, the `width` best-scored
open paths go on. Finished paths (an answer step) leave the beam and become leaves.

Rules that must hold:
- The first version of every step is the chain's own (greedy by default), so the greedy
  chain is always among the paths tried until pruning drops it; an answer step is written
  once per path (it only states what the path found).
- Paths are expanded in transcript order, so siblings and cousins follow each other and the
  backend's prefix matching re-uses their shared prefix; the new steps are grown in waves
  of `parallel`, decoded side by side (each a fork of its parent's sequence).
- Pruning ranks by score, earlier node first on a tie; the budget is checked before every
  step, the first always runs, and the answer is the search's vote over finished leaves.
"""

from __future__ import annotations

from typing import Generator

from ponder.agent.engine.scaffold import RunScaffold, StrategyBody
from ponder.agent.strategies._registry import register
from ponder.agent.strategies._tree import SearchTree, TreeNode
from ponder.trace.events import Event


@register("beam", "beam search over factor steps (--width, --expansions)", parallel=True, scored=True)
def beam(run: RunScaffold) -> StrategyBody:
    """Answer by beam search over sampled factor steps."""
    tree = SearchTree(run)
    frontier = [(yield from tree.open())]
    stopped = "finished"
    while frontier:
        children, stopped = yield from _expand(tree, frontier)
        survivors = prune([c for c in children if not c.finished], run.config.width)
        for node in survivors + [c for c in children if c.finished]:
            node.kept = True
        frontier = [] if stopped != "finished" else survivors
    return (yield from tree.conclude(stopped))


def _expand(tree: SearchTree, frontier: list[TreeNode]) -> Generator[Event, None, tuple[list[TreeNode], str]]:
    """Grow every open path by one factor step, `expansions` times; stop early on the budget."""
    run = tree.run
    jobs = []
    for node in sorted(frontier, key=lambda n: n.state.transcript):
        factor = node.state.legal_next()[0]
        versions = 1 if factor.name == run.catalogue.answer_name else max(1, run.config.expansions)
        jobs += [(node, factor, version == 0) for version in range(versions)]
    children: list[TreeNode] = []
    wave = max(1, run.config.parallel)
    for start in range(0, len(jobs), wave):
        if len(tree.nodes) > 1 and run.meter.stop_reason(samples=False):
            return children, "budget"
        batch = jobs[start: start + wave]
        grown = [tree.grow(node, factor, greedy=greedy, share=len(batch)) for node, factor, greedy in batch]
        children += yield from run.together(grown)
    return children, "finished"


def prune(nodes: list[TreeNode], width: int) -> list[TreeNode]:
    """The `width` best-scored nodes, the earlier-grown first on a tie."""
    order = {id(n): i for i, n in enumerate(nodes)}
    return sorted(nodes, key=lambda n: (-n.score, order[id(n)]))[: max(1, width)]
