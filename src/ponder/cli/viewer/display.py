"""Any value of a trace as text: the one way a trace value reaches the screen or the Markdown.

Rules that must hold:
- Every field of a trace is untrusted, whatever its declared type: a trace file can come from
  anyone. `shown` takes any value (a string, a number, a list, a mapping, None, …) and returns
  text that has been through `visible()`; labels, cells, fields and the export use it (or
  `number` and `one_line`, which end in it) for every value they show.
- A number is formatted only when it is a number: a string where a number is expected is
  shown as that string, made visible, never formatted or trusted.
- Nothing here raises: a number too long to write, or a value nested too deeply to encode,
  is shown as a placeholder.
- Widgets get `rich.text.Text` built by `cell`, never a string they would parse as markup.
"""

from __future__ import annotations

import datetime as dt
import json

from rich.text import Text

from ponder.cli.safe import visible

UNSHOWABLE = "(a value too large or too deep to show)"


def shown(value: object, none: str = "n/a") -> str:
    """Any trace value as visible one-piece text: strings as they are, numbers written, the rest as JSON."""
    if value is None:
        return none
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number(value)
    try:
        return visible(json.dumps(value, ensure_ascii=False, default=repr))
    except (ValueError, TypeError, RecursionError):
        return UNSHOWABLE


def number(value: object, spec: str = "") -> str:
    """A number written with a format spec (e.g. '.1f'); anything else as `shown` writes it."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return shown(value)
    try:
        return format(value, spec)
    except (ValueError, OverflowError):
        return UNSHOWABLE


def one_line(value: object, width: int = 60) -> str:
    """The first line of a value, made visible and cut to a width."""
    line = shown(value, none="").strip().split("\n", 1)[0].replace("\t", " ")
    return line if len(line) <= width else line[: width - 1] + "…"


def cell(value: object, style: str = "", justify: str | None = None, none: str = "") -> Text:
    """A value as a `Text` (never markup), e.g. a cell of the run list."""
    return Text(shown(value, none=none), style=style, justify=justify)  # type: ignore[arg-type]


def utc(ts: object, spec: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp in UTC (default 'YYYY-MM-DD HH:MM'); one that is not a time is shown as it is."""
    if not isinstance(ts, (int, float)) or isinstance(ts, bool):
        return shown(ts)
    try:
        return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime(spec)
    except (ValueError, OverflowError, OSError):
        return number(ts)


def utc_seconds(ts: object) -> str:
    """A timestamp as 'YYYY-MM-DD HH:MM:SS UTC'."""
    return utc(ts, "%Y-%m-%d %H:%M:%S UTC")
