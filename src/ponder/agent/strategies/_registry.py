"""The one registry of strategies, and the protocol every strategy shares.

Rules that must hold:
- A strategy is a body: a generator over a RunScaffold that yields the run's events and
  returns the chosen Sample (or None). `@register(name, summary)` is the only way in, so
  the CLI lists, documents and validates strategies from `STRATEGIES` alone.
- Every strategy is run the same way, `STRATEGIES[name](backend, question, config, run_id=...,
  model=...)`, and its events open with RunStarted and close with RunFinished.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

from ponder.agent.engine.scaffold import RunScaffold, StrategyBody
from ponder.agent.settings import ChainConfig, RunConfig, run_config
from ponder.llm.backend import Backend
from ponder.thought_factors.catalogue import Catalogue
from ponder.trace.events import Event


class Body(Protocol):
    """What a strategy does inside its run's scaffold."""

    def __call__(self, run: RunScaffold) -> StrategyBody: ...


@dataclass(frozen=True)
class Strategy:
    """A registered strategy: its name, a one-line summary for help, and its body."""

    name: str
    summary: str
    body: Body
    parallel: bool = False  # whether it decodes sequences side by side (--parallel)
    scored: bool = False  # whether it reads --scorer

    def __call__(self, backend: Backend, question: str, config: ChainConfig | RunConfig, *, run_id: str,
                 model: str, catalogue: Catalogue | None = None) -> Iterator[Event]:
        """Answer `question` with this strategy, yielding every event of the run."""
        scaffold = RunScaffold(backend, question, run_config(config), run_id=run_id, model=model,
                               strategy=self.name, catalogue=catalogue)
        return scaffold.run(self.body(scaffold))


STRATEGIES: dict[str, Strategy] = {}


def register(name: str, summary: str, parallel: bool = False, scored: bool = False) -> Callable[[Body], Body]:
    """Register a strategy body under `name` (`parallel`: it decodes sequences side by side;
    `scored`: it reads the scorers)."""

    def add(body: Body) -> Body:
        if name in STRATEGIES:
            raise ValueError(f"strategy {name!r} is registered twice")
        STRATEGIES[name] = Strategy(name, summary, body, parallel, scored)
        return body

    return add
