"""The tally shared by every strategy that votes (vote, beam, mcts): weighted samples grouped
by equivalent answers, and whether the leader is decided.

Rules that must hold:
- Answers are grouped only by `tools.answers.equivalent`, with the numbers the question gives
  (`same_answers`: "3/7" and "0.43" to "Which is larger, 3/7 or 0.43?" are two answers) and a
  symbolic checker for the strategies that have one; a sample without an answer casts no vote.
- The symbolic checker runs sympy in the sandbox for at most SYMBOLIC_PAIRS pairs of a run
  (about half a second each): past that, two expressions that differ as written are two
  answers, so a vote of many distinct formulas stays bounded in time.
- Groups are ordered heaviest first, then most members, then earliest sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Callable

from ponder.agent.engine.scaffold import Sample
from ponder.tools.answers import ExtractedAnswer, equivalent, given_numbers
from ponder.tools.sandbox import Sandbox
from ponder.tools.sympy_check import symbolic_equal

Same = Callable[[ExtractedAnswer, ExtractedAnswer], bool]
SYMBOLIC_PAIRS = 12


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


def same_answers(question: str, sandbox: Sandbox | None = None) -> Same:
    """`equivalent` for the answers to `question`: two different numbers it gives are different
    answers; given a sandbox, sympy there decides whether two different expressions are equal (each pair once)."""
    given = given_numbers(question)
    if sandbox is None:
        return partial(equivalent, given=given)

    asked = [0]

    @lru_cache(maxsize=None)
    def symbolic(a: str, b: str) -> bool | None:
        if asked[0] >= SYMBOLIC_PAIRS:
            return None
        asked[0] += 1
        return symbolic_equal(a, b, sandbox)

    return partial(equivalent, symbolic=symbolic, given=given)


def tally(votes: list[tuple[Sample, float]], same: Same) -> list[Group]:
    """Group weighted samples by equivalent answers (`same`), heaviest group first (earliest on a tie)."""
    groups: list[Group] = []
    for sample, weight in votes:
        answer = sample.result.answer
        if not answer.normalized:
            continue
        home = next((g for g in groups if same(g.members[0][0].result.answer, answer)), None)
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
