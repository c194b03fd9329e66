"""Answer one item of a batch: run its strategy, keep its trace, and make its result record.

Rules that must hold:
- The record is built from the run's events (the RunFinished event's answer and usage).
- Failures of one item (a model-side error, no answer) become the item's record. Only an
  interrupt (KeyboardInterrupt, which SIGTERM raises too) and a failure to write the trace
  (WriteError) escape, so the caller stops at an item boundary.
- The trace always ends with a `run_finished` event: `error` for a failed item,
  `interrupted` when SIGINT or SIGTERM stopped it (unless the trace itself failed).
- An item's trace (`ItemTrace`) ends exactly once, under a lock: by its run, or by a batch
  that stops it from another thread (`batch.pool`, `--concurrency`). Its last line is its only
  `run_finished` (a run that had finished stays finished), and nothing is written after it: the
  run's next event raises `Stopped`.
"""

from __future__ import annotations

import threading
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
from ponder.trace.events import Event, RunFinished, ToolCall, ToolResult
from ponder.trace.jsonl import TraceWriter, WriteError
from ponder.trace.usage import summarize
from ponder.agent.engine.scaffold import NO_ANSWER_ERROR


def bad_line_record(bad: BadLine) -> dict[str, Any]:
    """The record of an input line that could not be run."""
    return {"id": bad.id, "line": bad.line, "question": None, "answer": None, "status": "error",
            "error": bad.error}


class Stopped(KeyboardInterrupt):
    """The batch stopped this item from another thread; its trace has ended as `interrupted`."""


class ItemTrace:
    """One item's events and its trace file (opened at the first event), ended exactly once."""

    def __init__(self, trace_dir: Path | None) -> None:
        self.run_id = new_run_id()
        self.path = trace_dir / f"{self.run_id}.jsonl" if trace_dir else None
        self.seen: list[Event] = []
        self.tools_running: set[str] = set()  # spans of tool calls (sandbox runs) without their result yet
        self._writer: TraceWriter | None = None
        self._ended = False
        self._lock = threading.Lock()

    def add(self, event: Event) -> None:
        """Keep and write one event; `Stopped` once the trace has ended."""
        with self._lock:
            if self._ended:
                raise Stopped()
            if self._writer is None and self.path is not None:
                self._writer = TraceWriter(self.path)
            self.seen.append(event)
            if isinstance(event, ToolCall):
                self.tools_running.add(event.span)
            elif isinstance(event, ToolResult):
                self.tools_running.discard(event.span)
            if self._writer:
                self._writer.write(event)

    def end(self, status: str | None = None, error: str | None = None) -> None:
        """End the trace once: a closing `run_finished` of `status` (unless the run wrote its own
        or the trace failed), then close the file."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            try:
                if status and self._writer and not (self.seen and isinstance(self.seen[-1], RunFinished)):
                    self._writer.write(RunFinished(self.run_id, status=status, usage=summarize(self.seen), error=error))
            except (WriteError, ValueError):
                pass
            finally:
                if self._writer:
                    self._writer.close()


def run_item(backend: Backend, item: Item, config: ChainConfig | RunConfig, strategy: str, model: str,
             trace_dir: Path | None, trace: ItemTrace | None = None) -> dict[str, Any]:
    """Run one item and return its result record (`trace`: the batch's handle on it, in a worker)."""
    trace = trace or ItemTrace(trace_dir)
    start = time.monotonic()
    error = None
    try:
        for event in STRATEGIES[strategy](backend, item.question, config, run_id=trace.run_id, model=model):
            trace.add(event)
    except KeyboardInterrupt:
        trace.end("interrupted")
        raise
    except WriteError:
        raise
    except PonderError as exc:
        error = str(exc)
        trace.end("error", error)
    finally:
        trace.end()
    finished = next((e for e in reversed(trace.seen) if isinstance(e, RunFinished)), None)
    return _record(item, strategy, finished, error, time.monotonic() - start, trace.path)


def _record(item: Item, strategy: str, finished: RunFinished | None, error: str | None,
            seconds: float, path: Path | None) -> dict[str, Any]:
    answer = finished.answer if finished else None
    if error is None and not answer:
        error = NO_ANSWER_ERROR
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
