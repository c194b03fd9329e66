"""Following a trace while it is written: a tail that yields whole new lines, and the loop a
thread worker runs to post them to the viewer.

Rules that must hold:
- Only complete lines are parsed; a partial last line waits for the rest of it.
- The worker thread never touches widgets: it posts `TraceAppended` / `FollowFailed` messages.
- Polling stops as soon as the worker is cancelled (the screen or app closed).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from ponder.cli.viewer.messages import FollowFailed, TraceAppended
from ponder.cli.viewer.source import split_lines
from ponder.trace.jsonl import TraceRead, parse_lines

POLL_SECONDS = 0.1


class Tail:
    """Reads what was appended to a file since the last read, whole lines only."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset

    def read(self) -> tuple[TraceRead, bool]:
        """Events and warnings from the whole lines appended since the last read, and
        whether a partial line is still waiting for its end."""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        lines, used = split_lines(data, whole_only=True)
        self.offset += used
        return parse_lines(lines), bool(data[used:].strip())


def follow(tail: Tail, post: Callable[[object], object], cancelled: Callable[[], bool],
           interval: float = POLL_SECONDS) -> None:
    """Poll the tail until cancelled, posting each batch of new events as one message."""
    while not cancelled():
        try:
            read, pending = tail.read()
        except OSError as exc:
            post(FollowFailed(f"stopped following {tail.path}: {exc.strerror or exc}"))
            return
        if read.events or read.warnings:
            post(TraceAppended(read.events, read.warnings, pending))
        time.sleep(interval)
