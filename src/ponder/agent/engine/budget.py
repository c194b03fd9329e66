"""The meter that holds a run to its Budget (tokens, seconds, samples; see `agent.settings`).

Rules that must hold:
- A budget is checked before every new round or sample; the first chain of a run always
  starts, so a run always has an answer to return. A chain in progress is capped by the
  tokens left (it jumps to its answer when they run short); seconds are checked between
  chains, never by cutting a chain off.
- Tokens are completion tokens of every model call (chains, reviews, judgements), counted
  from StepFinished events, so the meter and the run's usage agree.
- Stopping never looks at a reference answer: only at what was spent. A search (beam, mcts)
  is one round whose iterations the samples setting bounds: its steps stop on tokens and
  seconds, never on the round it is counted as.
"""

from __future__ import annotations

import time
from dataclasses import replace

from ponder.agent.settings import MIN_CHAIN_TOKENS, Budget, ChainConfig
from ponder.trace.events import Event, RoundStarted, StepFinished


class Meter:
    """What a run has spent against its Budget, fed with the run's events."""

    def __init__(self, budget: Budget, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.budget = budget
        self.clock = clock
        self.start = clock()
        self.tokens = 0
        self.chains = 0

    def observe(self, event: Event) -> None:
        """Count what an event spent."""
        if isinstance(event, StepFinished):
            self.tokens += event.completion_tokens
        elif isinstance(event, RoundStarted):
            self.chains += 1

    def tokens_left(self) -> int | None:
        """Completion tokens still allowed (None: no limit)."""
        return None if self.budget.tokens is None else max(0, self.budget.tokens - self.tokens)

    def stop_reason(self, samples: bool = True) -> str | None:
        """Why no further chain may start ("tokens", "seconds", "samples"), or None; a search,
        one round whose iterations `samples` bounds itself, asks without the samples."""
        left = self.tokens_left()
        if left is not None and left < MIN_CHAIN_TOKENS:
            return "tokens"
        if self.budget.seconds is not None and self.clock() - self.start >= self.budget.seconds:
            return "seconds"
        if samples and self.budget.samples is not None and self.chains >= self.budget.samples:
            return "samples"
        return None

    def chains_left(self) -> int | None:
        """Chains the samples budget still allows (None: no limit)."""
        return None if self.budget.samples is None else max(0, self.budget.samples - self.chains)

    def affords(self, tokens: int) -> bool:
        """Whether a call of at most `tokens` completion tokens fits the token budget."""
        left = self.tokens_left()
        return left is None or tokens <= left

    def chain_config(self, config: ChainConfig, share: int = 1) -> ChainConfig:
        """The chain's settings with max_tokens capped to its share of the tokens left (chains
        that run side by side split them)."""
        left = self.tokens_left()
        if left is None or left // max(1, share) >= config.max_tokens:
            return config
        return replace(config, max_tokens=max(1, left // max(1, share)))
