"""Markdown export: model text stays text, and no terminal control byte gets out."""

from __future__ import annotations

import re

from ponder.cli.viewer.export import fenced, inline, to_markdown
from ponder.cli.viewer.source import load_bytes, load_path
from tests.viewer.helpers import REAL, lines_of, record

HOSTILE = "```\n# not a heading\n\x1b[31mred\x1b[0m [link](http://x) <b>html</b> **bold** \u202e"


def hostile_trace() -> list:
    lines = lines_of(REAL)
    extra = [
        record(type="step_started", run="r", ts=5.0, span="h1", parent="s1", factor="hypothesize", index=10),
        record(type="step_finished", run="r", ts=6.0, span="h1", factor="hypothesize", text=HOSTILE,
               stop_reason="stop", completion_tokens=3, prompt_tokens=9, prompt_tokens_evaluated=1, seconds=0.1),
        record(type="candidate_scored", run="r", ts=7.0, span="c1", parent="s1", score=0.5, note="\x1b]0;pwn\x07"),
    ]
    return load_bytes("".join(lines[:-2] + extra + lines[-2:]).encode()).events


def test_export_has_every_step_tool_call_and_the_answer():
    md = to_markdown(load_path(REAL).events)
    assert md.startswith("# ponder run 20261121T054110Z-83e127\n")
    for factor in ("restate", "decompose", "hypothesize", "verify", "correct", "answer"):
        assert re.search(rf"^### \d\. {factor}", md, re.M), factor
    assert len(re.findall(r"^#### Tool call: sympy \(true\)", md, re.M)) == 9
    assert "## Answer\n\n```text\n391\n```" in md
    assert "### 9\\. answer" not in md and "### 9. answer (chosen answer)" in md


def test_model_text_cannot_break_out_of_its_fence_or_emit_escapes():
    md = to_markdown(hostile_trace())
    assert "\x1b" not in md and "\x07" not in md and "\u202e" not in md
    assert "\\x1b[31mred" in md and "\\u202e" in md
    block = re.search(r"^(`{4,})text\n```\n# not a heading\n.*?^\1$", md, re.M | re.S)
    assert block, "the step text must sit in a fence longer than its own ``` run"
    assert "\n# not a heading" not in md.replace(block.group(0), "")
    assert "### candidate\\_scored" in md


def test_fence_and_inline_helpers():
    assert fenced("a ```` b") == "`````text\na ```` b\n`````"
    assert inline("a|b *c* [d]\nnext") == "a\\|b \\*c\\* \\[d\\] next"
    assert inline("\x1b[2J") == "\\\\x1b\\[2J"  # renders as the visible text \x1b[2J


def test_warnings_are_listed():
    md = to_markdown(load_path(REAL).events, ["line 9 is not JSON; skipped"])
    assert md.endswith("## Warnings\n\n- line 9 is not JSON; skipped\n")
