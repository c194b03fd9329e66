"""Items in flight: `ponder batch --concurrency K` keeps K items running at once against a server.

Rules that must hold:
- At most `width` items run at once, each in a daemon worker thread with its own run id and
  trace (`runner.ItemTrace`, opened by the caller's thread before the worker starts). Results
  come back to the caller's thread in order of completion: only that thread writes result
  lines and draws progress, so every line is whole and no id is written twice.
- Signals arrive in the main thread (`ponder.interrupts`). When the caller stops early
  (Ctrl-C, SIGTERM, a results file that cannot be written: any exit from the `with` block),
  no item starts, and every item in flight at once has its trace ended as `interrupted`
  (signals held while the lines are written) and gives no result, so `--resume` runs it
  again; its worker stops at its next event. The pool then waits at most `grace` seconds for
  the workers running a sandbox check (it ends within its code timeout, killing its process
  group); a worker waiting on the model (a silent server) is a daemon and dies with the
  process, unwaited; a second Ctrl-C ends the wait.
- A worker's failure that is not its item's own (a trace that cannot be written, a bug)
  stops the pool in the same way and is raised in the caller's thread.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, Iterable, Iterator, TypeVar

from ponder.batch.runner import ItemTrace
from ponder.interrupts import held

T = TypeVar("T")
R = TypeVar("R")
WAIT = 0.25  # seconds between checks for a finished item, so the main thread sees signals promptly


@dataclass
class _Flight(Generic[T]):
    """One item in flight: its task, its trace, its worker."""

    task: T
    trace: ItemTrace
    thread: threading.Thread | None = None


@dataclass
class _Failed:
    """What a worker raised, for the caller's thread to raise."""

    error: BaseException


class Pool(Generic[T, R]):
    """Runs `work(task, trace)` for each task, `width` at once, in worker threads (a context manager)."""

    def __init__(self, width: int, trace_dir: Path | None, grace: float) -> None:
        self.width = max(1, width)
        self.trace_dir = trace_dir
        self.grace = grace
        self.most_in_flight = 0
        self._live: dict[int, _Flight[T]] = {}
        self._done: queue.Queue[tuple[_Flight[T], R | _Failed]] = queue.Queue()
        self._stopped = False

    def __enter__(self) -> "Pool[T, R]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, tasks: Iterable[T], work: Callable[[T, ItemTrace], R]) -> Iterator[tuple[T, R]]:
        """Each task with its result, as each completes (closing this early stops the pool)."""
        waiting = iter(tasks)
        exhausted = False
        try:
            while not self._stopped:
                while not exhausted and len(self._live) < self.width:
                    task = next(waiting, _END)
                    if task is _END:
                        exhausted = True
                    else:
                        self._start(task, work)  # type: ignore[arg-type]
                if not self._live:
                    return
                flight, outcome = self._next()
                del self._live[id(flight)]
                if isinstance(outcome, _Failed):
                    raise outcome.error
                yield flight.task, outcome
        finally:
            self.stop()

    def _start(self, task: T, work: Callable[[T, ItemTrace], R]) -> None:
        flight = _Flight(task, ItemTrace(self.trace_dir))
        flight.thread = threading.Thread(target=self._work, args=(flight, work), name="ponder-item", daemon=True)
        self._live[id(flight)] = flight
        self.most_in_flight = max(self.most_in_flight, len(self._live))
        flight.thread.start()

    def _work(self, flight: _Flight[T], work: Callable[[T, ItemTrace], R]) -> None:
        try:
            outcome: R | _Failed = work(flight.task, flight.trace)
        except BaseException as exc:  # handed to the caller's thread (a stopped item's is dropped)
            outcome = _Failed(exc)
        self._done.put((flight, outcome))

    def _next(self) -> tuple[_Flight[T], R | _Failed]:
        while True:
            try:
                return self._done.get(timeout=WAIT)
            except queue.Empty:
                continue

    def stop(self) -> None:
        """Start nothing more; end the traces of the items in flight as `interrupted`; wait for their workers."""
        if self._stopped:
            return
        self._stopped = True
        live = list(self._live.values())
        try:
            with held():
                for flight in live:
                    flight.trace.end("interrupted")
        except KeyboardInterrupt:  # a second signal, raised once every trace had ended
            pass
        deadline = time.monotonic() + self.grace
        try:
            for flight in live:  # one not started yet, or waiting on the model, has nothing to wait for
                if flight.thread is not None and flight.thread.is_alive() and flight.trace.tools_running:
                    flight.thread.join(max(0.0, deadline - time.monotonic()))
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
            pass


_END = object()
