"""The strategies a run can use, by name. Every strategy has the signature of `run_question`:
(backend, question, config, *, run_id, model) -> an iterator of events ending in RunFinished."""

from __future__ import annotations

from typing import Callable, Iterator

from ponder.agent.run import run_question
from ponder.trace.events import Event

Strategy = Callable[..., Iterator[Event]]

STRATEGIES: dict[str, Strategy] = {
    "chain": run_question,
}
