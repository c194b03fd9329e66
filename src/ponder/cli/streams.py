"""Standard streams that fail in one line: a failed stdout is an error naming stdout; a failed
stderr is dropped.

Rules that must hold:
- `guard()` (main calls it once) first puts /dev/null on any of fds 0-2 that is closed, so no
  file ponder opens (a trace, a results file) lands on them or leaks into a sandbox child;
  then it wraps sys.stdout and sys.stderr. A closed stdin stays `sys.stdin is None`.
- Any failed write or flush of stdout (closed from the start, a full device, a reader that
  went away) raises `StdoutError` (a WriteError: exit 1) naming stdout. From then on fd 1
  is /dev/null, so nothing more fails, not even the interpreter's last flush.
- A failed write to stderr never costs the answer or the trace: stderr becomes /dev/null
  and the text is dropped (there is nowhere left to say anything).
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from ponder.trace.jsonl import WriteError


class StdoutError(WriteError):
    """stdout could not be written (exit 1)."""


class GuardedStream:
    """A text stream whose write failures are handled by one rule (see the module docstring)."""

    def __init__(self, stream: TextIO, fd: int, name: str, fatal: bool, closed: bool = False) -> None:
        self._stream = stream
        self._fd = fd
        self._name = name
        self._fatal = fatal
        self._problem = f"{name} is closed" if closed else ""

    def write(self, text: str) -> int:
        """Write text; a failure raises StdoutError (stdout) or is dropped (stderr)."""
        if self._problem:
            return self._failed(None)
        try:
            return self._stream.write(text)
        except (OSError, ValueError) as exc:
            return self._failed(exc)

    def writelines(self, lines: Any) -> None:
        """Write each line."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush; a failure raises StdoutError (stdout) or is dropped (stderr)."""
        if self._problem:
            return
        try:
            self._stream.flush()
        except (OSError, ValueError) as exc:
            self._failed(exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _failed(self, exc: BaseException | None) -> int:
        if exc is not None:
            self._problem = getattr(exc, "strerror", None) or str(exc)
            _to_devnull(self._fd)
        if self._fatal:
            raise StdoutError(f"cannot write to {self._name}: {self._problem}")
        return 0


def guard() -> None:
    """Put /dev/null on closed standard fds, and wrap sys.stdout and sys.stderr."""
    for fd in (0, 1, 2):
        if not _is_open(fd):
            _to_devnull(fd)
    sys.stdout = _guarded(sys.stdout, 1, "stdout", fatal=True)  # type: ignore[assignment]
    sys.stderr = _guarded(sys.stderr, 2, "stderr", fatal=False)  # type: ignore[assignment]


def print_line(text: str) -> None:
    """One whole line on stdout, flushed (an interrupt waits for its end)."""
    from ponder.interrupts import held

    with held():
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def flush_stdout() -> None:
    """Flush stdout (raising StdoutError when it fails), so no failure is left for exit time."""
    sys.stdout.flush()


def _guarded(stream: TextIO | None, fd: int, name: str, fatal: bool) -> GuardedStream:
    """Wrap a standard stream; one Python started without (a closed fd) writes nowhere and fails."""
    if isinstance(stream, GuardedStream):
        return stream
    if stream is None:
        return GuardedStream(open(os.devnull, "w", encoding="utf-8"), fd, name, fatal, closed=True)
    return GuardedStream(stream, fd, name, fatal)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _to_devnull(fd: int) -> None:
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    try:
        os.dup2(null, fd)
    finally:
        if null != fd:
            os.close(null)
