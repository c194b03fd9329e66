"""The tally shared by every strategy that votes (vote, beam, mcts): weighted samples grouped
by equivalent answers, and whether the leader is decided.

Rules that must hold:
- Answers are grouped only by `tools.answers.equivalent`; a sample without an answer casts no vote.
- Groups are ordered heaviest first, then most members, then earliest sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ponder.agent.engine.scaffold import Sample
from ponder.tools.answers import equivalent


@dataclass
class Group:
    """Samples whose answers are equivalent, and their total weight."""

    members: list[tuple[Sample, float]] = field(default_factory=list)

    @property
    def weight(self) -> float:
        """The group's total weight."""
        return round(sum(w for _, w in self.members), 6)

    @property
    def representative(self) -> Sample:
        """The heaviest sample of the group, the earliest on a tie."""
        return max(self.members, key=lambda m: (m[1], -m[0].index))[0]


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
