"""Read a question file: plain text (one question per line) or JSONL (`id`, `question`).

Rules that must hold:
- Every line becomes exactly one Item or one BadLine; a bad line (invalid UTF-8, NUL bytes,
  longer than the limit, bad JSON, no question, a duplicate id) never stops the others.
- The format is decided by the first non-blank line: '{' means JSONL, anything else text.
- Ids are strings: `id` (or its alias `custom_id`) when given, else the line number. A bad
  line's id is `line:N`, which no good item can have, so no id is ever written twice.
- An over-long line is skipped in bounded memory, never read whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Union

MAX_LINE_BYTES = 64 * 1024
RESERVED = ("id", "custom_id", "question")


@dataclass(frozen=True)
class Item:
    """One question to answer."""

    id: str
    question: str
    line: int
    reference: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BadLine:
    """A line that could not become an item, and why."""

    id: str
    line: int
    error: str


Entry = Union[Item, BadLine]


def read_items(stream: BinaryIO, max_line: int = MAX_LINE_BYTES, reference_key: str | None = None) -> list[Entry]:
    """Parse a question file; `reference_key` names a field holding the known answer."""
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    jsonl: bool | None = None
    for number, raw, too_long in _lines(stream, max_line):
        if too_long:
            entries.append(BadLine(f"line:{number}", number, f"line {number} is longer than {max_line} bytes"))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            entries.append(BadLine(f"line:{number}", number, f"line {number} is not valid UTF-8"))
            continue
        if not text.strip():
            continue
        if jsonl is None:
            jsonl = text.lstrip().startswith("{")
        entry = _parse(text, number, jsonl, reference_key)
        entries.append(_dedupe(entry, seen))
    return entries


def _parse(text: str, number: int, jsonl: bool, reference_key: str | None) -> Entry:
    if "\x00" in text:
        return BadLine(f"line:{number}", number, f"line {number} contains NUL bytes")
    if not jsonl:
        return Item(str(number), text.strip(), number)
    try:
        record = json.loads(text)
    except ValueError as exc:
        return BadLine(f"line:{number}", number, f"line {number} is not valid JSON ({exc.msg})")
    if not isinstance(record, dict):
        return BadLine(f"line:{number}", number, f"line {number} is not a JSON object")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        return BadLine(f"line:{number}", number, f"line {number} has no 'question' text")
    if "\x00" in question:
        return BadLine(f"line:{number}", number, f"line {number} contains NUL bytes")
    raw_id = record.get("id", record.get("custom_id", number))
    if not isinstance(raw_id, (str, int)) or isinstance(raw_id, bool) or str(raw_id).startswith("line:"):
        return BadLine(f"line:{number}", number, f"line {number} has an unusable id")
    reference = record.get(reference_key) if reference_key else None
    extra = {k: v for k, v in record.items() if k not in RESERVED}
    return Item(str(raw_id), question.strip(), number, None if reference is None else str(reference), extra)


def _dedupe(entry: Entry, seen: dict[str, int]) -> Entry:
    if isinstance(entry, BadLine):
        return entry
    if entry.id in seen:
        return BadLine(f"line:{entry.line}", entry.line, f"line {entry.line} repeats id {entry.id!r} (first on line {seen[entry.id]})")
    seen[entry.id] = entry.line
    return entry


def _lines(stream: BinaryIO, max_line: int):  # type: ignore[no-untyped-def]
    """Yield (number, bytes without newline, too_long), skipping over-long lines in chunks."""
    number = 0
    while True:
        raw = stream.readline(max_line + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_line and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(max_line + 1)
            yield number, b"", True
            continue
        body = raw.rstrip(b"\n").rstrip(b"\r")
        yield number, body, len(body) > max_line
