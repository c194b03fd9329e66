"""Parse what the model wrote inside a step: code blocks and candidate answers.

Rule that must hold: a block the model re-opens before writing any code (the engine's lead
opens ```python, and the model writes ```python again) is one block, so its code runs,
never just the comment above it.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*(python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.S | re.I)
_REOPENED = re.compile(
    r"(```[ \t]*(?:python|py|python3)[ \t]*\n(?:[ \t]*(?:#[^\n]*)?\n)*)```[ \t]*(?:python|py|python3)[ \t]*\n", re.I)
_CHECK = re.compile(r"^[ \t]*CHECK[ \t]*:[ \t]*(.+?)[ \t]*$", re.M)
MAX_CHECKS = 5
_CANDIDATE = re.compile(r"candidate answer\s*[:=]\s*(.+)", re.I)


def python_blocks(text: str) -> list[str]:
    """The ```python blocks in a step (an unclosed last block runs to the end)."""
    blocks = []
    for match in _FENCE.finditer(_REOPENED.sub(r"\1", text)):
        lang, body = match.group(1), match.group(2)
        if lang is None and not _looks_like_python(body):
            continue
        if body.strip():
            blocks.append(body.strip("\n"))
    return blocks


def _looks_like_python(body: str) -> bool:
    return "print(" in body


def check_claims(text: str) -> list[str]:
    """The `CHECK: claim` lines of a step, outside code blocks (at most MAX_CHECKS)."""
    outside = _FENCE.sub("", text)
    return _CHECK.findall(outside)[:MAX_CHECKS]


def candidate_answer(text: str) -> str | None:
    """The text after the last 'Candidate answer:' in a step, if any."""
    found = _CANDIDATE.findall(text)
    return found[-1].strip() if found else None
