"""JSONL traces: one event per line, flushed as written; a reader that survives damage.

Rules that must hold:
- The writer writes one complete line per event and flushes it, so a follower or a crash
  never sees more than one torn line, and only at the end.
- The reader never raises on content: a torn last line, a line that is not JSON, or an
  unknown event type become warnings or `UnknownEvent`s. Only an unreadable file raises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable

from ponder.trace.events import Event, from_record, to_record


def dumps(event: Event) -> str:
    """One event as one JSON line (no trailing newline)."""
    return json.dumps(to_record(event), ensure_ascii=False, separators=(",", ":"))


class TraceWriter:
    """Appends events to a JSONL file, one flushed line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = open(path, "x", encoding="utf-8")

    def write(self, event: Event) -> None:
        """Append one event and flush it to the OS."""
        if self._file is None:
            raise ValueError("trace writer is closed")
        self._file.write(dumps(event) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file; further writes are errors."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "TraceWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class TraceRead:
    """Events read from a trace, with warnings about damaged lines."""

    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_lines(lines: Iterable[str]) -> TraceRead:
    """Parse trace lines into events, collecting warnings for damaged ones."""
    result = TraceRead()
    lines = list(lines)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        last = number == len(lines)
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            where = "last line is truncated" if last and not line.endswith("\n") else "is not JSON"
            result.warnings.append(f"line {number} {where}; skipped")
            continue
        if not isinstance(record, dict):
            result.warnings.append(f"line {number} is not a JSON object; skipped")
            continue
        result.events.append(from_record(record))
    return result


def read_trace(path: Path) -> TraceRead:
    """Read a trace file; undecodable bytes are replaced, damaged lines reported."""
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        return parse_lines(f.readlines())
