"""Answer one item of a batch: run its strategy, keep its trace, and make its result record.

Rules that must hold:
- The record is built from the run's events (the RunFinished event's answer and usage).
- Failures of one item (a model-side error, no answer) become the item's record. Only an
  interrupt (KeyboardInterrupt, which SIGTERM raises too) and a failure to write the trace
  (WriteError) escape, so the caller stops at an item boundary.
- The trace always ends with a `run_finished` event: `error` for a failed item,
  `interrupted` when SIGINT or SIGTERM stopped it (unless the trace itself failed).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ponder.agent.engine.ids import new_run_id
from ponder.agent.settings import ChainConfig, RunConfig
from ponder.agent.strategies import STRATEGIES
from ponder.batch.items import BadLine, Item
from ponder.batch.metrics import gsm8k_reference
from ponder.errors import PonderError
from ponder.llm.backend import Backend
from ponder.tools.answers import equivalent
from ponder.trace.events import Event, RunFinished
from ponder.trace.jsonl import TraceWriter, WriteError
from ponder.trace.usage import summarize


def bad_line_record(bad: BadLine) -> dict[str, Any]:
    """The record of an input line that could not be run."""
    return {"id": bad.id, "line": bad.line, "question": None, "answer": None, "status": "error",
            "error": bad.error}


def run_item(backend: Backend, item: Item, config: ChainConfig | RunConfig, strategy: str, model: str,
             trace_dir: Path | None) -> dict[str, Any]:
    """Run one item and return its result record."""
    run_id = new_run_id()
    path = trace_dir / f"{run_id}.jsonl" if trace_dir else None
    start = time.monotonic()
    seen: list[Event] = []
    error = None
    writer = TraceWriter(path) if path else None
    try:
        for event in STRATEGIES[strategy](backend, item.question, config, run_id=run_id, model=model):
            seen.append(event)
            if writer:
                writer.write(event)
    except KeyboardInterrupt:
        _close(writer, RunFinished(run_id, status="interrupted", usage=summarize(seen)))
        raise
    except WriteError:
        raise
    except PonderError as exc:
        error = str(exc)
        _close(writer, RunFinished(run_id, status="error", usage=summarize(seen), error=error))
    finally:
        if writer:
            writer.close()
    finished = next((e for e in reversed(seen) if isinstance(e, RunFinished)), None)
    return _record(item, strategy, finished, error, time.monotonic() - start, path)


def _close(writer: TraceWriter | None, final: RunFinished) -> None:
    """End a trace with its closing event (a trace that already failed stays as it is)."""
    if writer:
        try:
            writer.write(final)
        except (WriteError, ValueError):
            pass


def _record(item: Item, strategy: str, finished: RunFinished | None, error: str | None,
            seconds: float, path: Path | None) -> dict[str, Any]:
    answer = finished.answer if finished else None
    if error is None and not answer:
        error = "the model gave no answer"
    record: dict[str, Any] = {
        "id": item.id,
        "line": item.line,
        "question": item.question,
        "answer": answer,
        "status": "ok" if error is None else "error",
        "strategy": strategy,
        "usage": finished.usage if finished else {},
        "seconds": round(seconds, 3),
        "trace": str(path) if path else None,
        "error": error,
    }
    if item.reference is not None:
        reference = gsm8k_reference(item.reference)
        record["reference"] = reference
        record["correct"] = bool(answer) and equivalent(answer, reference)
    if item.extra:
        record["extra"] = item.extra
    return record
