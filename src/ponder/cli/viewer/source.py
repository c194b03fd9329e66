"""Loading a trace for the viewer: from a file (whole lines only when following) or from bytes.

Rules that must hold:
- Every read is bounded and goes through `ponder.inputs` (regular files only, at most
  `MAX_TRACE_BYTES`): a FIFO, a device or `/dev/zero` is refused before anything blocks.
- Lines are split on "\n" only (a JSON line may hold U+2028 and other separators raw).
- When following a running trace, a partial last line is left for later, not warned about;
  otherwise a torn last line is a warning, as in `read_trace`.
- `parse` is the one way the viewer turns lines into events (the run screen, the run list and
  the follower all use it): a line that cannot be parsed, or an event whose fields have the
  wrong types or nest deeper than `MAX_NESTING`, is a warning, never an exception. An event of
  a known type with a wrong field is kept as an unknown event (shown generically, as damaged);
  one nested too deeply is skipped. Past `MAX_WARNINGS`, warnings are counted, not listed.
  Everything after `parse` may trust the declared types (an int field holds a 64-bit integer,
  so sums and ratios never overflow; a float field may hold NaN or an infinity, which ponder
  writes as "NaN" or "Infinity").
- A file in which no line is a ponder event is "not a trace": a message, never an exception.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ponder.cli.viewer.display import one_line
from ponder.errors import UsageError
from ponder.inputs import MAX_TRACE_BYTES, nesting_depth, read_file
from ponder.trace.events import EVENT_TYPES, Event, UnknownEvent
from ponder.trace.jsonl import TraceRead, parse_lines

MAX_NESTING = 32  # lists and objects inside a field; real traces nest three or four
MAX_WARNINGS = 20  # per read; the rest are counted in one line
MAX_INT = 2**63 - 1  # an integer field (tokens, an index, an exit code) is a 64-bit integer
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}  # as ponder writes them


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


def parse(lines: Iterable[str]) -> TraceRead:
    """Events from trace lines, with a warning for every damaged line or ill-formed event."""
    read = parse_lines(lines)
    events: list[Event] = []
    for event in read.events:
        if too_deep(event):
            read.warnings.append(f"{_name(event)} is nested deeper than {MAX_NESTING} levels; skipped")
            continue
        fault = fault_of(event)
        if fault is None:
            events.append(revived(event))
        else:
            read.warnings.append(f"{_name(event)} {fault}; shown as an unknown event")
            events.append(event if isinstance(event, UnknownEvent) else damaged(event))
    return TraceRead(events, capped(read.warnings))


def capped(warnings: list[str]) -> list[str]:
    """At most `MAX_WARNINGS` warnings, then one line that counts the rest."""
    if len(warnings) <= MAX_WARNINGS:
        return warnings
    rest = len(warnings) - MAX_WARNINGS
    return warnings[:MAX_WARNINGS] + [f"{rest} more damaged lines or events, not listed one by one"]


def too_deep(event: Event) -> bool:
    """Whether lists and mappings nest deeper than `MAX_NESTING` in any field of an event."""
    values = [event.record] if isinstance(event, UnknownEvent) else [getattr(event, f.name) for f in dataclasses.fields(event)]
    return any(nesting_depth(value, MAX_NESTING) > MAX_NESTING for value in values)


def fault_of(event: Event) -> str | None:
    """What is wrong with an event's fields (a wrong type, a missing field), or None."""
    if isinstance(event, UnknownEvent):
        missing = _missing(event.record)
        return f"lacks {', '.join(missing)}" if missing else None
    for name, fits in _checks(type(event)):
        value = getattr(event, name)
        if not fits(value):
            return f"has a bad {name} ({_json_kind(value)})"
    return None


def revived(event: Event) -> Event:
    """The event with a non-finite number written as a string ("NaN", "Infinity") read back as a float."""
    fixes = {name: NON_FINITE[value] for name in _float_fields(type(event))
             if isinstance(value := getattr(event, name), str)}
    return dataclasses.replace(event, **fixes) if fixes else event


def damaged(event: Event) -> UnknownEvent:
    """A known event with ill-typed fields, kept as an unknown event (its fields shown as they are)."""
    values = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    record = {"v": 1, "type": event.type, **values}
    run, ts = values.get("run"), values.get("ts")
    return UnknownEvent(run=run if isinstance(run, str) else "",
                        ts=ts if isinstance(ts, (int, float)) and not isinstance(ts, bool) else 0.0,
                        record=record)


def load_bytes(data: bytes, *, follow: bool = False) -> Loaded:
    """Parse the bytes of a trace; when following, keep a partial last line for later."""
    lines, used = split_lines(data, whole_only=follow)
    read = parse(lines)
    loaded = Loaded(read.events, read.warnings, offset=used, line_count=len(lines),
                    pending=bool(data[used:].strip()))
    loaded.problem = problem(loaded, follow=follow)
    return loaded


def read_path(path: Path) -> bytes:
    """The bytes of a trace file, bounded; a FIFO, a device or a too-large file is a UsageError."""
    return read_file(path, MAX_TRACE_BYTES, "trace")


def load_path(path: Path, *, follow: bool = False) -> Loaded:
    """Read a trace file; an unreadable file is a problem message, not an exception."""
    try:
        data = read_path(path)
    except UsageError as exc:
        return Loaded(problem=str(exc))
    return load_bytes(data, follow=follow)


def problem(loaded: Loaded, *, follow: bool = False) -> str | None:
    """Why these events are not a viewable trace, or None when they are."""
    if any(not isinstance(e, UnknownEvent) for e in loaded.events):
        return None
    if not loaded.events and not loaded.warnings:
        return None if follow else "the trace is empty: no events were written"
    first = f"; first: {loaded.warnings[0]}" if loaded.warnings else ""
    return f"this is not a ponder trace: no line is a ponder event (is it a JSONL file from `ponder ask`?){first}"


def _missing(record: dict[str, Any]) -> list[str]:
    """The required fields a record of a known type lacks (none for a type this version does not know)."""
    kind = record.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None  # a list or an object is no type
    if cls is None:
        return []
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    return [name for name in required if name not in record]


@functools.cache
def _checks(cls: type[Event]) -> list[tuple[str, Callable[[object], bool]]]:
    """For each field of an event class, a test that a value has its declared type."""
    names = {f.name for f in dataclasses.fields(cls)}
    return [(name, _check(hint)) for name, hint in typing.get_type_hints(cls).items() if name in names]


@functools.cache
def _float_fields(cls: type[Event]) -> list[str]:
    """The fields of an event class declared as a float (or a float or None)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return [name for name, hint in typing.get_type_hints(cls).items()
            if name in names and (hint is float or float in typing.get_args(hint))]


def _check(hint: Any) -> Callable[[object], bool]:
    """A test that a value has a declared type (one level into lists and mappings)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return lambda value: True
    if origin in (typing.Union, types.UnionType):
        checks = [_check(arg) for arg in args]
        return lambda value: any(check(value) for check in checks)
    if hint is int:
        return _is_int
    if hint is float:
        return lambda value: isinstance(value, float) or _is_int(value) or (isinstance(value, str) and value in NON_FINITE)
    if origin is dict:
        item = _check(args[1])
        return lambda value: isinstance(value, dict) and all(isinstance(k, str) and item(v) for k, v in value.items())
    if origin is list:
        item = _check(args[0])
        return lambda value: isinstance(value, list) and all(item(v) for v in value)
    return lambda value: isinstance(value, hint)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT


def _name(event: Event) -> str:
    """The event's type and span, for a warning."""
    fields = event.record if isinstance(event, UnknownEvent) else vars(event)
    kind = fields.get("type") if isinstance(event, UnknownEvent) else event.type
    span = fields.get("span")
    where = f" (span {one_line(span, 40)})" if isinstance(span, str) else ""
    return f"event {one_line(kind, 40)}{where}"


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"
