"""Read a question file: plain text (one question per line) or JSONL (`id`, `question`).

Rules that must hold:
- Every line becomes exactly one Item or one BadLine; a bad line (invalid UTF-8, NUL bytes,
  longer than the limit, bad JSON, JSON nested too deeply or holding a number too long to
  read, a lone surrogate, no question, a duplicate id, a known answer that cannot grade: a
  list, a bool, NaN, or a GSM8K '####' with nothing after it) never stops the others.
- The format is `text`, `jsonl`, or `auto` (the default): JSONL when the first non-blank
  line is written as a JSON object (`{` to `}`, valid or not, or beginning `{"`), otherwise text. A leading UTF-8 BOM is dropped before anything else.
- Ids are strings: `id` (or its alias `custom_id`) when given and not null, else the line number; a
  `custom_id` beside an `id` stays in the item's extra fields. A bad
  line's id is `line:N`, which no good item can have, so no id is ever written twice.
- Memory is bounded: an over-long line is skipped in chunks, never read whole, and a file of
  more than MAX_QUESTIONS_BYTES or MAX_LINES lines is refused whole (UsageError, exit 2).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Union

from ponder.batch.metrics import gsm8k_reference
from ponder.errors import UsageError
from ponder.inputs import MAX_ITEM_NESTING, MAX_QUESTIONS_BYTES, nesting_depth, size_text

MAX_LINE_BYTES = 64 * 1024
MAX_LINES = 1_000_000
RESERVED = ("id", "custom_id", "question")
FORMATS = ("auto", "text", "jsonl")
BOM = b"\xef\xbb\xbf"


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


def read_items(stream: BinaryIO, max_line: int = MAX_LINE_BYTES, reference_key: str | None = None,
               fmt: str = "auto", what: str = "the question file", max_bytes: int = MAX_QUESTIONS_BYTES,
               max_lines: int = MAX_LINES) -> list[Entry]:
    """Parse a question file in `fmt` (auto, text, jsonl); `reference_key` names the known answer's field."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown question format {fmt!r}; use one of {', '.join(FORMATS)}")
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    jsonl: bool | None = None if fmt == "auto" else fmt == "jsonl"
    for number, raw, too_long in _lines(_Bounded(stream, max_bytes, max_lines, what), max_line):
        if too_long:
            entries.append(_bad(number, f"is longer than {max_line} bytes"))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            entries.append(_bad(number, "is not valid UTF-8"))
            continue
        if not text.strip():
            continue
        if jsonl is None:
            jsonl = looks_like_json_object(text)
        entries.append(_dedupe(_parse(text, number, jsonl, reference_key), seen))
    return entries


def looks_like_json_object(text: str) -> bool:
    """Whether a line is written as one JSON object, `{` to `}`, or begins as one does, `{"`
    (the `auto` format's test: a first line that is meant as JSON but is broken or torn is a
    bad line of a JSONL file, not a question of a text file)."""
    text = text.strip()
    return (text.startswith("{") and text.endswith("}")) or text.replace(" ", "").startswith('{"')


def _bad(number: int, why: str) -> BadLine:
    return BadLine(f"line:{number}", number, f"line {number} {why}")


def _parse(text: str, number: int, jsonl: bool, reference_key: str | None) -> Entry:
    if "\x00" in text:
        return _bad(number, "contains NUL bytes")
    if not jsonl:
        return Item(str(number), text.strip(), number)
    record = _load(text, number)
    if isinstance(record, BadLine):
        return record
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        return _bad(number, "has no 'question' text")
    if "\x00" in question:
        return _bad(number, "contains NUL bytes")
    key = next((k for k in ("id", "custom_id") if record.get(k) is not None), None)  # a null id is no id
    raw_id = record[key] if key else number
    if (not isinstance(raw_id, (str, int)) or isinstance(raw_id, bool) or str(raw_id).startswith("line:")
            or not str(raw_id).strip()):
        return _bad(number, "has an unusable id")
    reference = record.get(reference_key) if reference_key else None
    if reference is not None:
        reference = _reference(reference)
        if reference is None:
            return _bad(number, f"has an unusable '{reference_key}': it must be text or a number with a final value")
    used = ("id", "question") if key == "id" else RESERVED  # a custom_id beside an id is kept as data
    extra = {k: v for k, v in record.items() if k not in used}
    return Item(str(raw_id), question.strip(), number, reference, extra)


def _reference(value: Any) -> str | None:
    """A known answer as text, or None when it cannot grade anything (a list, a bool, NaN,
    or a GSM8K solution whose '####' line is empty)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    text = str(value)
    return text if gsm8k_reference(text) else None


def _load(text: str, number: int) -> dict[str, Any] | BadLine:
    """One JSONL line as an object holding only text Python can write back, or why not."""
    try:
        record = json.loads(text, strict=False)  # a raw tab inside a string is no reason to refuse a line
    except json.JSONDecodeError as exc:
        return _bad(number, f"is not valid JSON ({exc.msg})")
    except ValueError:  # the one other ValueError: an integer past Python's digit limit
        return _bad(number, "holds a number too long to read")
    except RecursionError:
        return _bad(number, "is nested too deeply to read")
    if not isinstance(record, dict):
        return _bad(number, "is not a JSON object")
    if nesting_depth(record, MAX_ITEM_NESTING) > MAX_ITEM_NESTING:  # else writing it back could recurse too deep
        return _bad(number, f"is nested deeper than {MAX_ITEM_NESTING} levels")
    if _holds_lone_surrogate(record):
        return _bad(number, "holds a lone surrogate (a \\uD800-\\uDFFF escape that is not half of a pair), "
                            "which is not text")
    return record


def _holds_lone_surrogate(record: dict[str, Any]) -> bool:
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _dedupe(entry: Entry, seen: dict[str, int]) -> Entry:
    if isinstance(entry, BadLine):
        return entry
    if entry.id in seen:
        return _bad(entry.line, f"repeats id {entry.id!r} (first on line {seen[entry.id]})")
    seen[entry.id] = entry.line
    return entry


class _Bounded:
    """A binary stream read by lines, refused whole (UsageError) past a size or a line count."""

    def __init__(self, stream: BinaryIO, max_bytes: int, max_lines: int, what: str) -> None:
        self.stream, self.max_bytes, self.max_lines, self.what = stream, max_bytes, max_lines, what
        self.read = self.lines = 0

    def readline(self, size: int) -> bytes:
        """At most `size` bytes, up to and including a newline."""
        raw = self.stream.readline(size)
        self.read += len(raw)
        self.lines += raw.endswith(b"\n")
        if self.read > self.max_bytes:
            raise UsageError(f"{self.what} is larger than {size_text(self.max_bytes)}; refusing to read it")
        if self.lines > self.max_lines:
            raise UsageError(f"{self.what} has more than {self.max_lines:,} lines; split it")
        return raw


def _lines(stream: _Bounded, max_line: int):  # type: ignore[no-untyped-def]
    """Yield (number, bytes without newline or BOM, too_long), skipping over-long lines in chunks."""
    number = 0
    while raw := stream.readline(max_line + 1):
        number += 1
        if len(raw) > max_line and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(max_line + 1)
            yield number, b"", True
            continue
        body = raw.rstrip(b"\n").rstrip(b"\r")
        yield number, body.removeprefix(BOM) if number == 1 else body, len(body) > max_line
