"""A resumable JSONL results file: one complete line per item, never an id twice.

Rules that must hold:
- A line is written whole and flushed, with SIGINT held off while it is written, so an
  interrupted run leaves only valid lines.
- Opening with `resume` first repairs a torn last line (cutting back to the last newline),
  then reports the ids already present, which the caller must skip.
- Without `resume`, an existing non-empty file is refused rather than overwritten.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import IO, Any

from ponder.errors import UsageError


class ResultsFile:
    """Appends result records as JSON lines (to a file, or to stdout)."""

    def __init__(self, path: Path | None, resume: bool = False) -> None:
        self.path = path
        self.done: dict[str, str] = {}
        self.repaired = False
        if path is None:
            if resume:
                raise UsageError("--resume needs -o OUT.jsonl")
            self._file: IO[str] = sys.stdout
            return
        if path.exists() and path.is_dir():
            raise UsageError(f"{path} is a directory")
        if resume and path.exists():
            self.repaired = repair_torn_tail(path)
            self.done = completed_ids(path)
        elif path.exists() and path.stat().st_size > 0:
            raise UsageError(f"{path} already has results; pass --resume to continue it, or choose another file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}") from None

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as a whole line; record its id as done."""
        line = json.dumps(record, ensure_ascii=True) + "\n"
        blocked = _block_sigint()
        try:
            self._file.write(line)
            self._file.flush()
        finally:
            _restore(blocked)
        self.done[str(record["id"])] = str(record.get("status"))

    def close(self) -> None:
        """Close the file (never stdout)."""
        if self._file is not sys.stdout:
            self._file.close()


def repair_torn_tail(path: Path) -> bool:
    """Cut a last line that has no newline (a torn write); True when something was cut."""
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return False
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return False
        keep = _last_newline(f, size)
        f.truncate(keep)
        return True


def _last_newline(f, size: int) -> int:  # type: ignore[no-untyped-def]
    position = size
    while position > 0:
        step = min(65536, position)
        position -= step
        f.seek(position)
        chunk = f.read(step)
        index = chunk.rfind(b"\n")
        if index >= 0:
            return position + index + 1
    return 0


def completed_ids(path: Path) -> dict[str, str]:
    """Ids that already have a record in a results file, with their status."""
    done: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "id" in record:
                done[str(record["id"])] = str(record.get("status"))
    return done


def _block_sigint() -> bool:
    if not hasattr(signal, "pthread_sigmask"):
        return False
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return True


def _restore(blocked: bool) -> None:
    if blocked:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
