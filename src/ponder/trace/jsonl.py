"""JSONL: the one JSON serialiser, a whole-line file appender, traces written and read back.

Rules that must hold:
- `to_json` is the only way ponder writes JSON (traces, `--events`, `--json`, batch results,
  the eval report): strict JSON, never NaN or Infinity (a non-finite number is written as
  the string "NaN", "Infinity" or "-Infinity"), and ASCII only (every other character,
  a lone surrogate included, is a `\\uXXXX` escape), so writing never fails on content.
- `LineFile` appends whole lines: each is written with SIGINT and SIGTERM held off; a write
  that fails (a full disk) is cut back to the last whole line and the file closed, and the
  failure raised as one `WriteError` naming the file. A trace that never got a whole line
  is removed when closed, so a failed run leaves no 0-byte trace. The open never waits: a FIFO
  with no reader is a WriteError (one with a reader is written into, as a shell would).
- The trace writer writes one complete line per event and flushes it to the OS, so a
  follower or a crash never sees more than one torn line, and only at the end.
- The reader never raises on content: a torn last line, a line that is not JSON (or nested
  too deeply, or holding a number too long to read), or an unknown event type become warnings
  or `UnknownEvent`s. Only an unreadable file raises.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ponder.errors import PonderError
from ponder.inputs import describe
from ponder.interrupts import held
from ponder.trace.events import Event, from_record, to_record


class WriteError(PonderError):
    """A file or stream could not be written (exit 1)."""


def to_json(value: Any, *, compact: bool = False, indent: int | None = None) -> str:
    """Strict, ASCII-only JSON text of a JSON-ready value (non-finite numbers as strings)."""
    separators = (",", ":") if compact else None
    try:
        return json.dumps(value, ensure_ascii=True, allow_nan=False, separators=separators, indent=indent)
    except ValueError:  # a NaN or an infinity somewhere
        return json.dumps(_finite(value), ensure_ascii=True, allow_nan=False, separators=separators, indent=indent)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {_finite(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def dumps(event: Event) -> str:
    """One event as one JSON line (no trailing newline)."""
    return to_json(to_record(event), compact=True)


TEMP_NAME_CHARS = 100  # of a file's name in its temporary file's, so a 255-byte name still fits


class LineFile:
    """Appends whole lines to a file; a failed write is cut back and raised as WriteError."""

    def __init__(self, path: Path, what: str, exclusive: bool = False, drop_empty: bool = False,
                 regular_only: bool = False) -> None:
        self.path = path
        self.what = what
        self._drop_empty = drop_empty
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        existed = not exclusive and os.path.lexists(path)
        if regular_only:
            if existed and (kind := describe(path)) and kind != "not found":
                raise WriteError(f"cannot write {what} {path}: it is {kind}, not a regular file")
        try:
            self._fd: int | None = os.open(path, flags | (os.O_EXCL if exclusive else 0), 0o666)
        except FileExistsError:  # exclusive: an existing file is never appended to
            raise
        except OSError as exc:
            raise self._error(exc) from None
        self._created = not existed
        self._regular = stat.S_ISREG(os.fstat(self._fd).st_mode)
        if regular_only and not self._regular:
            self.close()
            raise WriteError(f"cannot write {self.what} {self.path}: not a regular file")
        os.set_blocking(self._fd, True)  # opened without waiting for a FIFO's reader; written in full
        self._end = os.lseek(self._fd, 0, os.SEEK_END) if self._regular else 0
        self.lines = 0

    @property
    def regular(self) -> bool:
        """Whether the file is a regular file (not a pipe or device)."""
        return self._regular

    def fileno(self) -> int | None:
        """The open descriptor (None once closed)."""
        return self._fd

    def write_line(self, text: str) -> None:
        """Append `text` and a newline, whole or not at all."""
        self.append((text + "\n").encode("utf-8", "backslashreplace"))

    def append(self, data: bytes) -> None:
        """Append bytes that end with a newline, whole or not at all."""
        if self._fd is None:
            raise ValueError(f"{self.what} {self.path} is closed")
        with held():
            try:
                _write_all(self._fd, data)
            except OSError as exc:
                self._abandon()
                raise self._error(exc) from None
            except KeyboardInterrupt:  # a second signal stopped a blocked write: no torn line stays
                self._abandon()
                raise
            self._end += len(data)
            self.lines += 1

    def close(self, drop_if_empty: bool | None = None) -> None:
        """Close the file (never raises); with drop_empty (or `drop_if_empty`), a created file
        with no line is removed."""
        if self._fd is None:
            return
        drop = self._drop_empty if drop_if_empty is None else drop_if_empty
        if drop and self._created and self.lines == 0 and self._regular:
            _remove(self.path)  # before the descriptor (and a lock on it) goes: no one else opens it between
        try:
            os.close(self._fd)
        except OSError:
            pass
        self._fd = None

    def _abandon(self) -> None:
        if self._regular and self._fd is not None:
            try:
                os.ftruncate(self._fd, self._end)
            except OSError:
                pass
        self.close()

    def _error(self, exc: OSError) -> WriteError:
        why = "a FIFO with no reader" if exc.errno == errno.ENXIO else exc.strerror or str(exc)
        return WriteError(f"cannot write {self.what} {self.path}: {why}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class TraceWriter:
    """Appends events to a new JSONL trace file, one whole line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(f"cannot write the trace {path}: {exc.strerror or exc}") from None
        self._file: LineFile | None = LineFile(path, "the trace", exclusive=True, drop_empty=True)

    def write(self, event: Event) -> None:
        """Append one event as a whole line."""
        if self._file is None:
            raise ValueError("trace writer is closed")
        self._file.write_line(dumps(event))

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
        except (ValueError, RecursionError):  # nested too deeply, or a number too long to read
            result.warnings.append(f"line {number} cannot be read (nested too deeply or a number too long); skipped")
            continue
        if not isinstance(record, dict):
            result.warnings.append(f"line {number} is not a JSON object; skipped")
            continue
        result.events.append(from_record(record))
    return result


def read_trace(path: Path) -> TraceRead:
    """Read a trace file (a regular file of at most MAX_TRACE_BYTES, else UsageError); undecodable
    bytes are replaced, damaged lines reported."""
    from ponder.inputs import MAX_TRACE_BYTES, read_file

    text = read_file(path, MAX_TRACE_BYTES, "trace").decode("utf-8", errors="replace")
    return parse_lines(io.StringIO(text, newline="").readlines())  # lines end at \n, \r\n or \r only
