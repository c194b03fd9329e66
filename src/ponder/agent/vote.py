"""The `vote` strategy (self-consistency): N sampled chains, answers grouped by equivalence
(`tools.answers.equivalent`), the heaviest group wins.

Rules that must hold:
- Each sample is its own round (RoundStarted, parent "run") with a CandidateScored event
  (its vote weight) under it; one VoteTally under the run closes the vote.
- A vote's weight comes from evidence only: with "verifier" weighting a chain whose last
  check passed counts 1.5, nothing checked 1, a failed check 0.5; "verifier+confidence"
  multiplies that by the chain's mean token confidence; "count" gives every vote 1.
- Sampling stops early when the leader cannot be overtaken by the samples left (each at
  the weighting's maximum weight), or when the budget is spent.
- The winner's representative is its heaviest sample (the earliest on a tie).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Generator, Iterator

from ponder.agent.chain import ChainConfig
from ponder.agent.config import SearchConfig, search_config
from ponder.agent.rounds import RunScaffold, Sample
from ponder.agent.scorers import confidence_score, verifier_score
from ponder.llm.backend import Backend
from ponder.thought_factors.catalogue import Catalogue
from ponder.tools.answers import equivalent
from ponder.trace.events import CandidateScored, Event, VoteTally

Weighting = Callable[[Sample], float]

WEIGHTINGS: dict[str, tuple[Weighting, float]] = {
    "count": (lambda s: 1.0, 1.0),
    "verifier": (lambda s: 0.5 + verifier_score(s), 1.5),
    "verifier+confidence": (lambda s: (0.5 + verifier_score(s)) * confidence_score(s), 1.5),
}


@dataclass
class Group:
    """Samples whose answers are equivalent, and their total weight."""

    members: list[tuple[Sample, float]] = field(default_factory=list)

    @property
    def weight(self) -> float:
        return round(sum(w for _, w in self.members), 6)

    @property
    def representative(self) -> Sample:
        """The heaviest sample of the group, the earliest on a tie."""
        return max(self.members, key=lambda m: (m[1], -m[0].index))[0]


def run_vote(backend: Backend, question: str, config: ChainConfig | SearchConfig, *, run_id: str, model: str,
             catalogue: Catalogue | None = None) -> Iterator[Event]:
    """Answer by a (weighted) majority vote over sampled chains; yield every event."""
    scaffold = RunScaffold(backend, question, search_config(config), run_id=run_id, model=model, strategy="vote",
                           catalogue=catalogue)
    return scaffold.run(_vote(scaffold))


def tally(votes: list[tuple[Sample, float]]) -> list[Group]:
    """Group weighted samples by equivalent answers, heaviest group first (earliest on a tie)."""
    groups: list[Group] = []
    for sample, weight in votes:
        answer = sample.result.answer
        if not answer.normalized:
            continue
        home = next((g for g in groups if equivalent(g.members[0][0].result.answer, answer)), None)
        if home is None:
            home = Group()
            groups.append(home)
        home.members.append((sample, weight))
    return sorted(groups, key=lambda g: (-g.weight, -len(g.members), g.members[0][0].index))


def decided(groups: list[Group], remaining: int, max_weight: float) -> bool:
    """Whether the leader wins whatever the remaining samples vote."""
    if not groups:
        return False
    runner_up = groups[1].weight if len(groups) > 1 else 0.0
    return groups[0].weight > runner_up + remaining * max_weight


def _vote(run: RunScaffold) -> Generator[Event, None, Sample | None]:
    config = run.config
    weigh, max_weight = WEIGHTINGS[config.weighting]
    votes: list[tuple[Sample, float]] = []
    stopped = "samples"
    for i in range(config.samples):
        if i > 0 and run.meter.stop_reason():
            stopped = "budget"
            break
        sample = yield from run.round(i + 1, config.sample_chain(i))
        weight = round(weigh(sample), 4)
        votes.append((sample, weight))
        yield CandidateScored(run.run_id, span=run.ids.next(), parent=sample.span,
                              answer=sample.result.answer.normalized, score=weight,
                              scores={"verifier": verifier_score(sample), "confidence": round(confidence_score(sample), 4)},
                              rule=config.weighting)
        if i + 1 < config.samples and decided(tally(votes), config.samples - i - 1, max_weight):
            stopped = "decided"
            break
    groups = tally(votes)
    chosen = groups[0].representative if groups else (votes[0][0] if votes else None)
    yield VoteTally(run.run_id, span=run.ids.next(), parent="run", groups=[_group_record(g) for g in groups],
                    winner=groups[0].representative.result.answer.normalized if groups else "",
                    samples=len(votes), stopped=stopped)
    return chosen


def _group_record(group: Group) -> dict[str, object]:
    return {"answer": group.representative.result.answer.normalized, "votes": len(group.members),
            "weight": group.weight, "rounds": [s.index for s, _ in group.members]}
