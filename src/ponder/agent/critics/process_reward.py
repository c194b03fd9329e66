"""A process reward model's rewards of a chain's steps (a scorer's input, `--scorer prm:PATH`).

Rules that must hold:
- The steps are the chain's own factor steps, in order, as they were written (their text, no
  tags); fresh-context calls (review, judge) are not steps of the chain.
- Rewards are computed only when the prm scorer is configured, by the strategy, before it
  scores; the scorer then only reads them (it runs no model).
"""

from __future__ import annotations

from typing import Sequence

from ponder.agent.engine.scaffold import RunScaffold, Sample
from ponder.trace.events import Event, StepFinished
from ponder.trace.usage import FRESH_CONTEXT_FACTORS


def chain_steps(events: Sequence[Event]) -> list[str]:
    """The text of each factor step of a chain, in order."""
    return [e.text for e in events if isinstance(e, StepFinished) and e.factor not in FRESH_CONTEXT_FACTORS]


def reward_steps(run: RunScaffold, sample: Sample) -> Sample:
    """The sample with its steps' rewards stored, when the run scores with a reward model."""
    if "prm" in run.config.scorers and run.config.prm:
        from ponder.llm.process_reward import process_reward_model

        model = process_reward_model(run.config.prm)
        sample.step_rewards = tuple(model.step_rewards(run.question, chain_steps(sample.events)))
    return sample
