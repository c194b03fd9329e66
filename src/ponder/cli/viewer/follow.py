"""Following a trace while it is written: a tail that yields whole new lines, and the loop a
thread worker runs to post them to the viewer.

Rules that must hold:
- Only complete lines are parsed; a partial last line waits for the rest of it.
- Every read is bounded: at most `CHUNK_BYTES` at a time, from a regular file opened through
  `ponder.inputs` (a path swapped for a FIFO is refused, never blocks), and never more than
  `MAX_TRACE_BYTES` in all; past that, following stops with a message.
- Reading is linear in the trace: each byte is read once, and a long partial line is kept as
  a list of pieces, joined once when its end arrives.
- The worker thread never touches widgets: it posts `TraceAppended` / `FollowFailed` messages.
- Polling stops as soon as the worker is cancelled (the screen or app closed).
- The file followed is the one first read: a path that now names another file (replaced, say
  by another run's trace) or one shorter than what was read (truncated) stops following with
  a message, never merging two runs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from ponder.cli.viewer.messages import FollowFailed, TraceAppended
from ponder.cli.viewer.source import parse, split_lines
from ponder.errors import PonderError
from ponder.inputs import MAX_TRACE_BYTES, MIB, open_regular
from ponder.trace.jsonl import TraceRead

POLL_SECONDS = 0.1
CHUNK_BYTES = 1 * MIB


class Tail:
    """Reads what was appended to a file since the last read, whole lines only."""

    def __init__(self, path: Path, offset: int = 0, limit: int = MAX_TRACE_BYTES, chunk: int = CHUNK_BYTES) -> None:
        self.path = path
        self.offset = offset
        self.limit = limit
        self.chunk = chunk
        self.partial: list[bytes] = []  # the start of a line whose end has not been written yet
        self.caught_up = True  # the last read reached the end of the file
        self.identity: tuple[int, int] | None = None  # (device, inode) of the file first read

    def read(self) -> tuple[TraceRead, bool]:
        """Events and warnings from the whole lines appended since the last read (at most one
        chunk), and whether a partial line is still waiting for its end."""
        data = self._read_chunk()
        if b"\n" not in data:
            if data:
                self.partial.append(data)
            return TraceRead(), self._pending()
        buffer = b"".join([*self.partial, data])
        lines, used = split_lines(buffer, whole_only=True)
        self.partial = [buffer[used:]] if used < len(buffer) else []
        return parse(lines), self._pending()

    def _read_chunk(self) -> bytes:
        with open_regular(self.path, "trace") as f:
            self._check_same(os.fstat(f.fileno()))
            f.seek(self.offset)
            data = f.read(min(self.chunk, self.limit + 1 - self.offset))
        if len(data) > self.limit - self.offset:  # the file holds more than the limit
            if self.offset >= self.limit:
                size = f"{self.limit // MIB} MiB" if self.limit >= MIB else f"{self.limit} bytes"
                raise PonderError(f"the trace grew past {size}")
            data = data[: self.limit - self.offset]
        self.offset += len(data)
        self.caught_up = len(data) < self.chunk
        return data

    def _check_same(self, info: os.stat_result) -> None:
        identity = (info.st_dev, info.st_ino)
        if self.identity is None:
            self.identity = identity
        elif identity != self.identity:
            raise PonderError("the trace file was replaced by another file")
        if info.st_size < self.offset:
            raise PonderError("the trace file was truncated")

    def _pending(self) -> bool:
        return any(piece.strip() for piece in self.partial)


def follow(tail: Tail, post: Callable[[object], object], cancelled: Callable[[], bool],
           interval: float = POLL_SECONDS) -> None:
    """Poll the tail until cancelled, posting each batch of new events as one message."""
    while not cancelled():
        try:
            read, pending = tail.read()
        except OSError as exc:
            post(FollowFailed(f"stopped following {tail.path}: {exc.strerror or exc}"))
            return
        except PonderError as exc:
            post(FollowFailed(f"stopped following {tail.path}: {exc}"))
            return
        if read.events or read.warnings:
            post(TraceAppended(read.events, read.warnings, pending))
        if tail.caught_up:
            time.sleep(interval)
