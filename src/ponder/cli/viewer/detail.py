"""What the detail pane shows for a node of the tree: fields, step text, tool code and output.

Rules that must hold:
- Pure: a `Detail` holds the trace's values as they are (any type); `render_fields` and
  `render_blocks` turn each into text through `display.shown` (the one way a trace value is
  shown) and build `rich.text.Text` without parsing markup. Numbers are formatted by
  `display.number`, which formats only what is a number.
- Only step text and tool code go to the Markdown widget (code inside a safe fence).
- A node or event this version does not know shows generically: its type and its fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text

from ponder.cli.viewer.display import number, shown, utc_seconds
from ponder.cli.viewer.export import fenced, json_text
from ponder.cli.viewer.labels import last_of
from ponder.trace.events import (
    Answer, Event, RoundStarted, RunFinished, RunStarted, StepFinished, StepStarted, ToolCall,
    ToolResult, UnknownEvent, to_record,
)
from ponder.trace.tree import Node


@dataclass
class Detail:
    """The content of the detail pane for one node."""

    title: object
    fields: list[tuple[str, object]] = field(default_factory=list)
    markdown: str | None = None
    blocks: list[tuple[object, object]] = field(default_factory=list)


def describe(node: Node) -> Detail:
    """The detail of a node of the run's tree."""
    if node.kind == "run":
        return _run(node)
    if node.kind == "round":
        return _round(node)
    if node.kind == "step":
        return _step(node)
    if node.kind == "tool":
        return _tool(node)
    return _generic(f"{node.kind} {node.span}", node.events)


def describe_event(event: Event) -> Detail:
    """The detail of a single event shown on its own (e.g. an unknown type on the run)."""
    kind = event.record.get("type", "event") if isinstance(event, UnknownEvent) else event.type
    return _generic(f"event of unknown type '{shown(kind)}'", [event])


def raw_json(events: list[Event]) -> str:
    """The node's events as pretty JSON records, one after another."""
    return "\n".join(json_text(to_record(e), indent=2) for e in events) or "(no events)"


def render_fields(detail: Detail) -> Text:
    """Title and fields as Text (no markup)."""
    out = Text(shown(detail.title), style="bold")
    width = max((len(k) for k, _ in detail.fields), default=0)
    for key, value in detail.fields:
        out.append("\n")
        out.append(f"{shown(key):<{width}}  ", style="bold dim")
        out.append(shown(value))
    return out


def render_blocks(detail: Detail) -> Text:
    """Preformatted blocks (observation, output, errors) as Text (no markup)."""
    out = Text()
    for i, (heading, body) in enumerate(detail.blocks):
        if i:
            out.append("\n\n")
        out.append(shown(heading), style="bold underline")
        out.append("\n")
        out.append(shown(body) or "(empty)")
    return out


def _run(node: Node) -> Detail:
    started = last_of(node.events, RunStarted)
    finished = last_of(node.events, RunFinished)
    detail = Detail("run")
    if started:
        detail.title = f"run {shown(started.run)}"
        detail.fields += [("started", utc_seconds(started.ts)), ("model", started.model), ("strategy", started.strategy)]
    if finished:
        detail.fields += [("status", finished.status), ("answer", finished.answer or "(none)")]
        detail.fields += [(k.replace("_", " "), v) for k, v in finished.usage.items()]
        if finished.error:
            detail.blocks.append(("error", finished.error))
    else:
        detail.fields.append(("status", "running (no run_finished event yet)"))
    if started:
        detail.blocks.insert(0, ("question", started.question))
        detail.blocks.append(("parameters", json_text(started.params, indent=2)))
    for event in node.events:
        if isinstance(event, UnknownEvent):
            detail.blocks.append((f"event '{shown(event.record.get('type'))}'", _record_text(event.record)))
    return detail


def _round(node: Node) -> Detail:
    started = last_of(node.events, RoundStarted)
    steps = [last_of(c.events, StepFinished) for c in node.children if c.kind == "step"]
    done = [s for s in steps if s]
    detail = Detail(node.label, [("steps", len(steps)), ("tokens", sum(s.completion_tokens for s in done)),
                                 ("model time", f"{number(sum(s.seconds for s in done), '.2f')} s")])
    if started:
        detail.fields.insert(0, ("started", utc_seconds(started.ts)))
    return detail


def _step(node: Node) -> Detail:
    started = last_of(node.events, StepStarted)
    finished = last_of(node.events, StepFinished)
    answer = last_of(node.events, Answer)
    index = f"{shown(started.index)}. " if started else ""
    detail = Detail(f"step {index}{shown(node.label)}", markdown=node.text or "(no text yet)")
    if started:
        detail.fields.append(("started", utc_seconds(started.ts)))
    if finished is None:
        detail.fields.append(("status", "running"))
    else:
        detail.fields += _step_fields(finished)
        if finished.observation is not None:
            detail.blocks.append(("observation (written by the engine)", finished.observation))
    tools = [c for c in node.children if c.kind == "tool"]
    if tools:
        detail.blocks.append(("tool calls", "\n".join(_tool_line(t) for t in tools)))
    if answer:
        detail.fields += [("answer", answer.text),
                          ("normalized", f"{shown(answer.normalized)} ({shown(answer.kind)}, from {shown(answer.source)})")]
    return detail


def _step_fields(s: StepFinished) -> list[tuple[str, str]]:
    return [
        ("outcome", s.outcome), ("stop", s.stop_reason), ("confidence", number(s.confidence, ".3f")),
        ("tokens", f"{number(s.completion_tokens)} out, {number(s.prompt_tokens)} prompt "
                   f"({number(s.prompt_tokens_evaluated)} evaluated)"),
        ("time", f"{number(s.seconds, '.3f')} s (prompt {number(s.prompt_seconds, '.3f')} s)"),
    ]


def _tool_line(node: Node) -> str:
    result = last_of(node.events, ToolResult)
    status = result.status if result else "running"
    last = node.text.strip().rsplit("\n", 1)[-1]
    return f"[{shown(status)}] {shown(node.label)}: {shown(last)}"


def _tool(node: Node) -> Detail:
    call = last_of(node.events, ToolCall)
    result = last_of(node.events, ToolResult)
    lang = "python" if node.label == "python" else "text"
    detail = Detail(f"tool call: {shown(node.label)}", markdown=fenced(shown(node.text), lang))
    if call:
        detail.fields.append(("called", utc_seconds(call.ts)))
    if result is None:
        detail.fields.append(("status", "running"))
        return detail
    detail.fields += [("status", result.status), ("exit code", result.exit_code),
                      ("time", f"{number(result.seconds, '.3f')} s"), ("isolation", result.isolation or "n/a")]
    detail.blocks.append(("output", result.output))
    if result.error:
        detail.blocks.append(("error", result.error))
    return detail


def _generic(title: str, events: list[Event]) -> Detail:
    detail = Detail(title)
    for event in events:
        record = event.record if isinstance(event, UnknownEvent) else to_record(event)
        detail.blocks.append((record.get("type", "event"), _record_text(record)))
    return detail


def _record_text(record: dict[str, object]) -> str:
    return "\n".join(f"{shown(k)}: {shown(v)}" for k, v in record.items())
