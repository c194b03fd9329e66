"""Scorers: small pure functions from a finished chain (a Sample) to a score in [0, 1],
combined by a named rule.

Rules that must hold:
- A scorer reads only the sample's result, its events and what a judge or a reward model
  already stored on it; it runs no model. (The judge's model call and the process reward
  model happen in the strategy, before scoring.)
- Scores never look at a reference answer.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from ponder.agent.engine.scaffold import Sample
from ponder.agent.settings import Rule, ScorerName
from ponder.trace.events import StepFinished

VERIFIER_SCORES = {"pass": 1.0, "none": 0.5, "fail": 0.0}

Scorer = Callable[[Sample], float]


def verifier_score(sample: Sample) -> float:
    """1 when the chain's last check passed, 0 when it failed, 0.5 when nothing was checked."""
    return VERIFIER_SCORES.get(sample.result.verified, 0.5)


def confidence_score(sample: Sample) -> float:
    """Mean top-token probability over the chain's steps, weighted by their tokens (0.5 if unknown)."""
    steps = [e for e in sample.events if isinstance(e, StepFinished) and e.confidence is not None]
    weight = sum(s.completion_tokens for s in steps)
    if not weight:
        return 0.5
    return sum(s.confidence * s.completion_tokens for s in steps) / weight  # type: ignore[operator]


def judge_score(sample: Sample) -> float:
    """The model's own P(yes) for "Is this answer correct?" (0.5 when not asked)."""
    return 0.5 if sample.judgement is None else sample.judgement


def prm_score(sample: Sample) -> float:
    """The process reward model's lowest step reward: a chain is as good as its weakest step (0.5 if unscored)."""
    return min(sample.step_rewards) if sample.step_rewards else 0.5


SCORERS: dict[ScorerName, Scorer] = {
    "verifier": verifier_score,
    "confidence": confidence_score,
    "judge": judge_score,
    "prm": prm_score,
}

RULES: dict[Rule, Callable[[Sequence[float]], float]] = {
    "mean": lambda xs: sum(xs) / len(xs),
    "product": lambda xs: math.prod(xs),
    "min": min,
}


def score(sample: Sample, names: Sequence[ScorerName], rule: Rule, *, partial: bool = False) -> tuple[float, dict[str, float]]:
    """The combined score of a sample and each scorer's part. A finished chain without an
    answer scores 0; a `partial` one (a search path still open) is scored on what it has."""
    parts = {name: round(SCORERS[name](sample), 4) for name in names}
    if not partial and not sample.result.answer.normalized:
        return 0.0, parts
    return round(RULES[rule](list(parts.values())), 4), parts
