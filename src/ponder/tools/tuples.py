"""Ordered tuples in answer text: a system's solution written with its variables ("x = 7, y = 3",
"(x, y) = (7, 3)"), as sympy prints it ("{x: 7, y: 3}", "[{x: 7, y: 3}]", "{(7, 3)}", a dict's "{'x': 7, 'y': 3}") or as a
point ("(7, 3)") is one tuple, its values in the order of their variables' names, so a chain's
boxed (7, 3) and a program's printed {x: 7, y: 3} are the same answer.

Rules that must hold:
- Pure text: split at top-level separators only (a comma inside parentheses, or the comma of
  1,000, never splits), never evaluated.
- Only two or more *different* variables make a tuple. The same variable twice ("x = 2 or
  x = 3") or one variable with indices ("x_1 = 2, x_2 = 3") lists the roots of one equation:
  a set, which `answers` reads; one variable alone ("x = 5", "{x: 5}") is its value.
- A bare tuple of values is ordered as written; named values are ordered by name (x before y).
"""

from __future__ import annotations

import re

_SEPARATOR = re.compile(r"\s*(?:;|,(?!\d{3}\b)|\band\b)\s*")  # never the comma of 1,000
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_{}]*")
_INDEX = re.compile(r"_?\{?\d+\}?$")  # x_1, x1, x_{1}: one variable's roots
_OPEN, _CLOSE = "([{", ")]}"
MAX_CHARS = 300


def ordered_values(text: str) -> list[str] | None:
    """The values of the ordered tuple a text writes, in order ('x = 7, y = 3' -> ['7', '3']), else None."""
    text = text.strip()
    if len(text) > MAX_CHARS:
        return None
    text = _single_element(text)
    named = _named(text)
    if named is not None:
        return named
    if _wrapped(text, "(", ")"):
        members = _split(text[1:-1])
        if len(members) > 1 and all(m and "=" not in m and ":" not in m for m in members):
            return members
    return None


def _named(text: str) -> list[str] | None:
    """Values by variable name: 'x = 7, y = 3', '{x: 7, y: 3}', '(x, y) = (7, 3)'."""
    if _wrapped(text, "{", "}"):
        pairs = [_pair(part, ":") for part in _split(text[1:-1])]
    elif (sides := _split_once(text, "=")) is not None and all(_wrapped(s, "(", ")") for s in sides):
        names, values = (_split(s[1:-1]) for s in sides)
        pairs = list(zip(names, values)) if len(names) == len(values) else [None]
    else:
        pairs = [_pair(part, "=") for part in _split(text)]
    if len(pairs) < 2 or any(p is None or not _NAME.fullmatch(p[0]) or not p[1] for p in pairs):
        return None
    bases = [_INDEX.sub("", name) for name, _ in pairs]  # type: ignore[misc]
    if len(set(bases)) != len(bases) or len({name for name, _ in pairs}) != len(pairs):  # type: ignore[misc]
        return None
    return [value for _, value in sorted(pairs)]  # type: ignore[type-var]


def _pair(part: str, mark: str) -> tuple[str, str] | None:
    """'x = 7' -> ('x', '7'); None when the part is not one name and one value."""
    sides = _split_once(part, mark)
    return (_unquoted(sides[0]), sides[1]) if sides is not None else None


def _unquoted(name: str) -> str:
    """A Python dict's quoted key as its name: "'x'" -> 'x'."""
    return name[1:-1] if len(name) > 2 and name[0] == name[-1] and name[0] in "'\"" else name


def _split_once(text: str, mark: str) -> tuple[str, str] | None:
    """The two sides of the one top-level `mark` in a text, stripped, else None."""
    at, depth, found = -1, 0, 0
    for i, ch in enumerate(text):
        depth += (ch in _OPEN) - (ch in _CLOSE)
        if ch == mark and depth == 0:
            at, found = i, found + 1
    if found != 1:
        return None
    return text[:at].strip(), text[at + 1:].strip()


def _single_element(text: str) -> str:
    """A list or set of one tuple or one dict as that element: '[{x: 7, y: 3}]', '{(7, 3)}'."""
    for opening, closing in ("[]", "{}"):
        if _wrapped(text, opening, closing):
            inner = text[1:-1].strip()
            if len(_split(inner)) == 1 and (_wrapped(inner, "(", ")") or _wrapped(inner, "{", "}")):
                return inner
    return text


def _wrapped(text: str, opening: str, closing: str) -> bool:
    """Whether the text is one bracketed group: '(7, 3)' is, '(x+1)(x-1)' is not."""
    if len(text) < 2 or text[0] != opening or text[-1] != closing:
        return False
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch in _OPEN) - (ch in _CLOSE)
        if depth == 0 and i < len(text) - 1:
            return False
    return depth == 0


def _split(text: str) -> list[str]:
    """The top-level members of a text, at commas, semicolons and 'and'; stripped."""
    members, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        depth += (ch in _OPEN) - (ch in _CLOSE)
        separator = _SEPARATOR.match(text, i) if depth == 0 and ch in ",; a" else None
        if separator is not None and separator.end() > i and (ch != "a" or _word_start(text, i)):
            members.append(text[start:i].strip())
            start = i = separator.end()
            continue
        i += 1
    members.append(text[start:].strip())
    return members


def _word_start(text: str, i: int) -> bool:
    """Whether position i begins a word (so 'and' inside 'band' never separates)."""
    return i == 0 or not text[i - 1].isalnum()
