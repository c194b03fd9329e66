"""A run of one bare guided chain (no review), as an event stream: the building block the
strategies in `agent/strategies.py` extend (the `chain` strategy adds the review loop).

Rules that must hold:
- A run's events open with RunStarted and, when the generator is exhausted, close with
  RunFinished; a consumer that stops early (Ctrl-C) writes the closing event itself.
- The run's totals are derived from its events (`trace.usage.summarize`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Iterator

from ponder.agent.chain import ChainConfig, think_chain
from ponder.agent.ids import SpanIds
from ponder.llm.backend import Backend
from ponder.thought_factors.catalogue import Catalogue, load_catalogue
from ponder.trace.events import Answer, Event, RoundStarted, RunFinished, RunStarted
from ponder.trace.usage import summarize


def run_question(
    backend: Backend,
    question: str,
    config: ChainConfig,
    *,
    run_id: str,
    model: str,
    catalogue: Catalogue | None = None,
) -> Iterator[Event]:
    """Answer `question`, yielding every event of the run."""
    catalogue = catalogue or load_catalogue()
    ids = SpanIds()
    seen: list[Event] = []

    def emit(event: Event) -> Event:
        seen.append(event)
        return event

    yield emit(RunStarted(run_id, question=question, model=model, strategy="chain", params=asdict(config)))
    round_span = ids.next()
    yield emit(RoundStarted(run_id, span=round_span, parent="run", index=1))
    chain = think_chain(backend, catalogue, question, config, run_id=run_id, parent=round_span, ids=ids)
    result = yield from _collect(chain, seen)
    answer = result.answer
    yield emit(Answer(run_id, span=result.answer_span, text=answer.text, normalized=answer.normalized, kind=answer.kind,
                      source=result.answer_source))
    yield RunFinished(run_id, status="ok", answer=answer.normalized or None, usage=summarize(seen))


def _collect(chain, seen: list[Event]):  # type: ignore[no-untyped-def]
    """Pass a chain's events through, remembering them; return the chain's result."""
    while True:
        try:
            event = next(chain)
        except StopIteration as stop:
            return stop.value
        seen.append(event)
        yield event
