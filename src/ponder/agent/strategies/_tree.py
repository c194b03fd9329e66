"""Shared parts of the search strategies (beam, mcts): a tree whose nodes are factor steps,
grown one step at a time from forked chain states, and the answer chosen from its leaves.

Rules that must hold:
- A node owns its own ChainState; growing a child forks it, so a parent never changes and
  siblings share the parent's transcript as a prefix (the backend's prefix matching re-uses
  its KV cache; `SearchNode.tokens` sums to the unique tokens of the tree).
- Every step's StepStarted names its parent node's span (the search round for the first
  steps), so the trace folds into the search tree itself.
- Child n of the run samples with seed `seed + SEED_STRIDE * n`; child 0 of a node keeps the
  chain's own temperature (greedy by default), the others use the sample temperature.
- A node's score is the configured scorers over the path to it (its last check, the
  confidence of its steps, a process reward model's rewards of them); never a reference
  answer. Open paths are scored as partial.
- The answer is the score-weighted vote over finished leaves (`_tally.tally`); when the budget
  ends the search with no finished leaf, the best open node is made to answer.
- When the search ends, one SearchNode event per node records its final statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Generator

from ponder.agent.critics.process_reward import reward_steps
from ponder.agent.critics.scorers import score
from ponder.agent.engine.calls import Work
from ponder.agent.engine.chain import ChainState, think_step
from ponder.agent.engine.scaffold import RunScaffold, Sample
from ponder.agent.settings import SEED_STRIDE
from ponder.agent.strategies._tally import same_answers, tally
from ponder.thought_factors.catalogue import Factor
from ponder.thought_factors.prompt import chain_prompt
from ponder.trace.events import CandidateScored, Event, RoundFinished, RoundStarted, SearchNode, StepFinished, VoteTally

MIN_LEAF_WEIGHT = 0.01  # a finished leaf always casts some vote, even at score 0


@dataclass
class TreeNode:
    """One node of a search tree: the chain state after its step, and its statistics."""

    span: str
    state: ChainState
    parent: "TreeNode | None" = None
    factor: str = ""
    depth: int = 0
    steps: tuple[StepFinished, ...] = ()
    score: float = 0.5
    prior: float = 1.0
    tokens: int = 0
    visits: int = 0
    value_sum: float = 0.0
    kept: bool = False
    children: list["TreeNode"] = field(default_factory=list)
    priors: dict[str, float] | None = None
    rewards: tuple[float, ...] | None = None  # a process reward model's, of each step of the path

    @property
    def finished(self) -> bool:
        """Whether this node's step was the answer."""
        return self.state.finished

    @property
    def value(self) -> float:
        """Mean backed-up value (the node's own score before any visit)."""
        return self.value_sum / self.visits if self.visits else self.score

    def sample(self, index: int = 0) -> Sample:
        """The path to this node as a Sample, for the scorers and the vote."""
        return Sample(index, self.span, self.state.result, list(self.steps), step_rewards=self.rewards)


class SearchTree:
    """A search tree of one run: its root (the search round), every node, and how to grow it."""

    def __init__(self, run: RunScaffold) -> None:
        self.run = run
        self.nodes: list[TreeNode] = []
        self.grown = 0

    def open(self) -> Generator[Event, None, TreeNode]:
        """Start the search round; return the root node (the prompt, no step yet)."""
        run = self.run
        span = run.ids.next()
        yield RoundStarted(run.run_id, span=span, parent="run", index=1)
        prompt = chain_prompt(run.backend, run.catalogue, run.question)
        state = ChainState(prompt, run.config.chain, run.catalogue, run.question)
        root = TreeNode(span, state, tokens=run.backend.count_tokens(prompt))
        self.nodes.append(root)
        return root

    @property
    def root(self) -> TreeNode:
        return self.nodes[0]

    def grow(self, node: TreeNode, factor: Factor, *, greedy: bool, share: int = 1) -> Work[TreeNode]:
        """Write one `factor` step after `node` on a forked state; return the new child. `share`:
        how many steps grow side by side, splitting the tokens the budget has left."""
        run, config = self.run, self.run.config
        temperature = config.chain.temperature if greedy else config.sample_temperature
        base = config.chain.seed if config.chain.seed is not None else 0
        chain = replace(config.chain, temperature=temperature, seed=base + SEED_STRIDE * self.grown,
                        max_tokens=self._path_cap(node, share))
        self.grown += 1
        state = node.state.fork(chain)
        factor = state.budgeted(state.enter(factor))
        step = yield from think_step(run.backend, state, factor, run_id=run.run_id, parent=node.span, ids=run.ids)
        child = TreeNode(step.span, state, node, factor.name, node.depth + 1, node.steps + (step.finished,))
        child.tokens = run.backend.count_tokens(state.transcript[len(node.state.transcript):])
        child.rewards = reward_steps(run, child.sample()).step_rewards
        child.score = score(child.sample(), config.scorers, config.rule, partial=not child.finished)[0]
        node.children.append(child)
        self.nodes.append(child)
        return child

    def _path_cap(self, node: TreeNode, share: int = 1) -> int:
        """A path's token cap: the chain's own, and no more than its share of what the run's
        budget has left."""
        left = self.run.meter.tokens_left()
        spent = node.state.result.completion_tokens
        cap = self.run.config.chain.max_tokens
        return cap if left is None else max(1, min(cap, spent + left // max(1, share)))

    def guided(self, node: TreeNode, *, greedy: bool) -> Generator[Event, None, list[TreeNode]]:
        """Follow the guided chain from `node` until an answer or the budget; return the new nodes."""
        path: list[TreeNode] = []
        while not node.finished and not self.run.meter.stop_reason(samples=False):
            node = yield from self.grow(node, node.state.legal_next()[0], greedy=greedy)
            path.append(node)
        return path

    def leaf_votes(self) -> list[tuple[Sample, float]]:
        """Every finished leaf as a (Sample, weight) vote, weighted by its score."""
        leaves = [n for n in self.nodes if n.finished]
        return [(leaf.sample(i), max(leaf.score, MIN_LEAF_WEIGHT)) for i, leaf in enumerate(leaves, start=1)]

    def conclude(self, stopped: str) -> Generator[Event, None, Sample | None]:
        """Finish the search: answer from the best open node if nothing finished, vote over the
        finished leaves, close the round and write every node's statistics."""
        leaves = [n for n in self.nodes if n.finished]
        if not leaves:
            best = max((n for n in self.nodes if n is not self.root), key=lambda n: (n.value, n.depth), default=None)
            if best is not None:
                answer = self.run.catalogue.answer
                leaves = [(yield from self.grow(best, answer, greedy=True))]
        chosen = yield from self._vote(leaves, stopped)
        yield from self._close(chosen)
        return chosen.sample() if chosen else None

    def _vote(self, leaves: list[TreeNode], stopped: str) -> Generator[Event, None, TreeNode | None]:
        run = self.run
        votes = [(leaf.sample(i), max(leaf.score, MIN_LEAF_WEIGHT)) for i, leaf in enumerate(leaves, start=1)]
        for leaf in leaves:
            yield CandidateScored(run.run_id, span=run.ids.next(), parent=leaf.span,
                                  answer=leaf.state.result.answer.normalized, score=leaf.score, rule=run.config.rule)
        groups = tally(votes, same_answers(run.question))
        yield VoteTally(run.run_id, span=run.ids.next(), parent=self.root.span, samples=len(votes), stopped=stopped,
                        groups=[{"answer": g.representative.result.answer.normalized, "votes": len(g.members),
                                 "weight": g.weight, "leaves": [s.span for s, _ in g.members]} for g in groups],
                        winner=groups[0].representative.result.answer.normalized if groups else "")
        if not groups:
            return leaves[0] if leaves else None
        span = groups[0].representative.span
        return next(leaf for leaf in leaves if leaf.span == span)

    def _close(self, chosen: TreeNode | None) -> Generator[Event, None, None]:
        run = self.run
        on_path = set()
        node = chosen
        while node is not None:
            on_path.add(node.span)
            node = node.parent
        for node in self.nodes:
            yield SearchNode(run.run_id, span=node.span, parent=node.parent.span if node.parent else "run",
                             factor=node.factor, depth=node.depth, score=node.score, visits=node.visits,
                             value=round(node.value, 4), prior=round(node.prior, 4), tokens=node.tokens,
                             kept=node.kept or node.span in on_path)
        result = chosen.state.result if chosen else None
        yield RoundFinished(run.run_id, span=self.root.span, answer=result.answer.text if result else "",
                            normalized=result.answer.normalized if result else "",
                            verified=result.verified if result else "none",
                            source=result.answer_source if result else "model",
                            completion_tokens=sum(n.steps[-1].completion_tokens for n in self.nodes if n.steps))
