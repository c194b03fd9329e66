"""Durations in answer text: "4 hours 25 minutes", "4 h and 25 min", "1 day, 2 hours" and a
program's printed "4 hours 25 minutes" are one length of time, written canonically.

Rules that must hold:
- Only two or more number-and-unit pairs make a duration, each unit once and larger before
  smaller (days, hours, minutes, seconds, or their short forms), joined by nothing, a comma
  or "and". A lone "25 minutes" stays the number 25, as GSM8K answers it; "25 minutes 4 hours"
  is no duration.
- Pure text and exact arithmetic on fractions; nothing is evaluated.
"""

from __future__ import annotations

import re
from fractions import Fraction

UNIT_SECONDS = {"day": 86400, "hour": 3600, "minute": 60, "second": 1}
_NAMES = {"days": "day", "d": "day", "hours": "hour", "hrs": "hour", "hr": "hour", "h": "hour",
          "minutes": "minute", "mins": "minute", "min": "minute", "m": "minute",
          "seconds": "second", "secs": "second", "sec": "second", "s": "second"}
_PAIR = re.compile(r"(\d+(?:\.\d+)?)\s*(" + "|".join(sorted([*UNIT_SECONDS, *_NAMES], key=len, reverse=True)) + r")\b",
                   re.I)
_BETWEEN = re.compile(r"\s*(?:,\s*)?(?:and\s+)?", re.I)
MAX_CHARS = 120


def duration_seconds(text: str) -> Fraction | None:
    """The length in seconds of a duration of two or more units ('4 hours 25 minutes' -> 15900), else None."""
    text = text.strip()
    if len(text) > MAX_CHARS:
        return None
    at, total, sizes = 0, Fraction(0), []
    for pair in _PAIR.finditer(text):
        if (pair.start() > 0 if not sizes else not _BETWEEN.fullmatch(text, at, pair.start())):
            return None
        unit = pair.group(2).lower()
        sizes.append(UNIT_SECONDS[_NAMES.get(unit, unit)])
        total += Fraction(pair.group(1)) * sizes[-1]
        at = pair.end()
    ordered = all(a > b for a, b in zip(sizes, sizes[1:]))
    return total if len(sizes) >= 2 and ordered and not text[at:].strip(" .") else None


def format_duration(seconds: Fraction) -> str:
    """A duration in words, largest unit first, zero units left out: 15900 -> '4 hours 25 minutes'."""
    parts, rest = [], seconds
    for unit, size in UNIT_SECONDS.items():
        count = rest // size if size > 1 else rest
        rest -= count * size
        if count:
            shown = str(count) if isinstance(count, int) or count.denominator == 1 else str(float(count))
            parts.append(f"{shown} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 seconds"
