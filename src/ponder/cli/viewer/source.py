"""Loading a trace for the viewer: from a file (whole lines only when following) or from text.

Rules that must hold:
- Lines are split on "\n" only (a JSON line may hold U+2028 and other separators raw).
- When following a running trace, a partial last line is left for later, not warned about;
  otherwise a torn last line is a warning, as in `read_trace`.
- A file in which no line is a ponder event is "not a trace": a message, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ponder.trace.events import Event, UnknownEvent
from ponder.trace.jsonl import parse_lines


@dataclass
class Loaded:
    """A trace read for viewing: events, warnings, a problem message, and bytes consumed."""

    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problem: str | None = None
    offset: int = 0
    line_count: int = 0
    pending: bool = False


def split_lines(data: bytes, *, whole_only: bool) -> tuple[list[str], int]:
    """Decode bytes into lines ending in "\\n"; return them and how many bytes they used."""
    end = data.rfind(b"\n") + 1 if whole_only else len(data)
    text = data[:end].decode("utf-8", errors="replace")
    lines = [line + "\n" for line in text.split("\n")]
    if lines and lines[-1] == "\n":
        lines.pop()
    if not text.endswith("\n") and lines:
        lines[-1] = lines[-1][:-1]
    return lines, end


def load_bytes(data: bytes, *, follow: bool = False) -> Loaded:
    """Parse the bytes of a trace; when following, keep a partial last line for later."""
    lines, used = split_lines(data, whole_only=follow)
    read = parse_lines(lines)
    loaded = Loaded(read.events, read.warnings, offset=used, line_count=len(lines),
                    pending=bool(data[used:].strip()))
    loaded.problem = problem(loaded, follow=follow)
    return loaded


def load_path(path: Path, *, follow: bool = False) -> Loaded:
    """Read a trace file; an unreadable file is a problem message, not an exception."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Loaded(problem=f"cannot read {path}: {exc.strerror or exc}")
    return load_bytes(data, follow=follow)


def problem(loaded: Loaded, *, follow: bool = False) -> str | None:
    """Why these events are not a viewable trace, or None when they are."""
    if any(not isinstance(e, UnknownEvent) for e in loaded.events):
        return None
    if not loaded.events and not loaded.warnings:
        return None if follow else "the trace is empty: no events were written"
    return "this is not a ponder trace: no line is a ponder event (is it a JSONL file from `ponder ask`?)"
