"""Make untrusted text safe for a terminal: control characters become visible escapes.

Rule that must hold: no byte of model or user text reaches the terminal as a control
sequence. Newlines and tabs stay; every other control or format character (C0, DEL, C1,
bidi overrides, zero-width characters) is shown as a backslash escape. A one-line message
(`one_line`: errors, warnings, notes) escapes newlines and tabs too. Text written into
Markdown on one line (`markdown_inline`) is also never Markdown: its active characters are
backslash-escaped, so it makes no heading, link, HTML or table cell.
"""

from __future__ import annotations

import re
import unicodedata

_KEEP = {"\n", "\t"}
_MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]#|<>~&!])")
_AUTOLINKED = re.compile(r"://|(?<=www)\.|@", re.IGNORECASE)
_BLOCK_START = re.compile(r"^(\d{0,9})([-+=.)])(?=[\s=-]|$)")  # a list item, an underline, "1. ": at a line's start


def visible(text: str) -> str:
    """Replace control and format characters with visible escapes."""
    return "".join(ch if _printable(ch) else _escape(ch) for ch in text)


def one_line(text: str) -> str:
    """`visible`, with newlines and tabs escaped too: a message that stays one line."""
    return "".join(ch if ch not in _KEEP and _printable(ch) else _escape(ch) for ch in text)


def markdown_inline(text: str, starts_line: bool = False) -> str:
    """`visible` text on one Markdown line: newlines and tabs folded to spaces, every active
    character backslash-escaped, what GitHub would make a link of bare (`http://…`, `www.…`,
    an e-mail address) broken by escapes that do not show; text that `starts_line` starts no
    block either (leading spaces dropped; a leading -, +, =, or the . or ) of a number, escaped)."""
    escaped = _MARKDOWN_ACTIVE.sub(r"\\\1", visible(text).replace("\n", " ").replace("\t", " "))
    escaped = _AUTOLINKED.sub(lambda m: "\\" + "\\".join(m.group(0)), escaped)
    if not starts_line:
        return escaped
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped.lstrip(" "))


def _printable(ch: str) -> bool:
    if ch in _KEEP:
        return True
    return unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
