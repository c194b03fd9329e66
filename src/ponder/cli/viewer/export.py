"""`ponder view --export md`: a run as Markdown, for notes, issues and reviews.

Rules that must hold:
- Pure: events in, a string out; nothing here touches a terminal.
- Model and user text is text, never Markdown: multi-line text goes in a fence longer than
  any backtick run inside it, one-line values are backslash-escaped.
- No terminal control byte survives: every trace value, whatever its type, goes through
  `display.shown` (or `number`, which formats only what is a number) before it is written.
- The tree is walked without recursion, and JSON of any value is written by `json_text`,
  which never raises.
"""

from __future__ import annotations

import json
import re

from ponder.cli.safe import markdown_inline
from ponder.cli.viewer.display import UNSHOWABLE, number, shown
from ponder.trace.events import Answer, Event, RunFinished, RunStarted, StepFinished, StepStarted, ToolResult, UnknownEvent, to_record
from ponder.trace.tree import Node, fold
from ponder.cli.viewer.labels import last_of

def fenced(text: str, lang: str = "text") -> str:
    """Text inside a backtick fence that no backtick run in it can close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip(chr(10))}\n{fence}"


def inline(value: object) -> str:
    """A value on one Markdown line: shown, newlines folded, active characters escaped."""
    return markdown_inline(shown(value))


def json_text(value: object, indent: int | None = None) -> str:
    """Any value as visible JSON text (a placeholder when it cannot be encoded)."""
    try:
        return shown(json.dumps(value, ensure_ascii=False, indent=indent, default=repr))
    except (ValueError, TypeError, RecursionError):
        return UNSHOWABLE


def to_markdown(events: list[Event], warnings: list[str] | None = None) -> str:
    """The whole run as a Markdown document."""
    root = fold(events)
    out: list[str] = []
    _header(root, out)
    stack = [(child, 2) for child in reversed(root.children)]
    while stack:
        node, depth = stack.pop()
        _node(node, depth, out)
        stack.extend((child, depth + 1) for child in reversed(node.children))
    others = [e for e in root.events if isinstance(e, UnknownEvent)]
    if others:
        out += ["## Other events", "", fenced(_records(others), "json"), ""]
    if warnings:
        out += ["## Warnings", ""] + [f"- {inline(w)}" for w in warnings] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def _header(root: Node, out: list[str]) -> None:
    started = last_of(root.events, RunStarted)
    finished = last_of(root.events, RunFinished)
    out += [f"# ponder run {inline(started.run) if started else ''}".rstrip(), ""]
    rows: list[tuple[str, object]] = []
    if started:
        rows += [("model", started.model), ("strategy", started.strategy)]
    if finished:
        rows += [("status", finished.status)] + list(finished.usage.items())
    else:
        rows.append(("status", "running"))
    if rows:
        out += ["| field | value |", "| --- | --- |"] + [f"| {inline(k)} | {inline(shown(v, none='null'))} |" for k, v in rows] + [""]
    if started:
        out += ["## Question", "", fenced(shown(started.question)), ""]
    answer = finished.answer if finished and finished.answer is not None else None
    out += ["## Answer", "", fenced(shown(answer)) if answer is not None else "(no answer)", ""]
    if finished and finished.error:
        out += ["## Error", "", fenced(shown(finished.error)), ""]


def _node(node: Node, depth: int, out: list[str]) -> None:
    heading = "#" * min(depth, 6)
    if node.kind == "round":
        out += [f"{heading} {inline(node.label.capitalize())}", ""]
    elif node.kind == "step":
        _step(node, heading, out)
    elif node.kind == "tool":
        _tool(node, heading, out)
    else:
        out += [f"{heading} {inline(node.kind)}", "", fenced(_records(node.events), "json"), ""]


def _step(node: Node, heading: str, out: list[str]) -> None:
    started = last_of(node.events, StepStarted)
    finished = last_of(node.events, StepFinished)
    answer = last_of(node.events, Answer)
    index = f"{shown(started.index)}. " if started else ""
    mark = " (chosen answer)" if answer else ""
    out += [f"{heading} {inline(index + shown(node.label))}{mark}", ""]
    if finished:
        out += [f"- outcome: {inline(finished.outcome)}; confidence: {inline(number(finished.confidence, '.3f'))}; "
                f"tokens: {inline(number(finished.completion_tokens))}; seconds: {inline(number(finished.seconds, '.3f'))}", ""]
    out += [fenced(shown(node.text)), ""]
    if finished and finished.observation is not None:
        out += ["Observation:", "", fenced(shown(finished.observation)), ""]
    if answer:
        out += [f"Answer: {inline(answer.text)} (normalized {inline(answer.normalized)}, from {inline(answer.source)})", ""]


def _tool(node: Node, heading: str, out: list[str]) -> None:
    result = last_of(node.events, ToolResult)
    status = result.status if result else "running"
    lang = "python" if node.label == "python" else "text"
    out += [f"{heading} Tool call: {inline(node.label)} ({inline(status)})", "", fenced(shown(node.text), lang), ""]
    if result:
        out += ["Output:", "", fenced(shown(result.output)), ""]
        if result.error:
            out += ["Error:", "", fenced(shown(result.error)), ""]


def _records(events: list[Event]) -> str:
    return "\n".join(json_text(to_record(e)) for e in events)
