"""Fold a stream of events into the tree of a run: run -> rounds -> steps -> tool calls.

Rules that must hold:
- Folding is a pure function of the events: the live stream and the same trace read back
  fold into equal trees.
- Every event lands somewhere: an event whose parent is unknown hangs off the root, and
  unknown event types are kept on the root, never dropped silently.
- An event of another kind (review verdicts, scored candidates, or an unknown type from a newer
  ponder) that names a new `span` and a `parent` opens a
  generic node of its type, so future node kinds (search branches, candidates) nest in place;
  one that names a known span joins that node's events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ponder.trace.events import (
    Answer,
    Event,
    RoundStarted,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolCall,
    ToolResult,
    UnknownEvent,
)


@dataclass
class Node:
    """One node of a run's tree: the run, a round, a step or a tool call."""

    span: str
    kind: str
    label: str
    parent: str | None = None
    text: str = ""
    children: list["Node"] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def walk(self) -> Iterable["Node"]:
        """This node and all below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


def fold(events: Iterable[Event]) -> Node:
    """Build the tree of one run from its events."""
    root = Node(span="run", kind="run", label="run")
    nodes: dict[str, Node] = {"run": root}
    for event in events:
        _apply(event, root, nodes)
    return root


def _attach(node: Node, parent_span: str | None, root: Node, nodes: dict[str, Node]) -> None:
    parent = nodes.get(parent_span or "", root)
    node.parent = parent.span
    parent.children.append(node)
    nodes[node.span] = node


def _apply(event: Event, root: Node, nodes: dict[str, Node]) -> None:
    if isinstance(event, RunStarted):
        root.label = event.question
        root.events.append(event)
    elif isinstance(event, RoundStarted):
        _attach(Node(event.span, "round", f"round {event.index}"), event.parent, root, nodes)
        nodes[event.span].events.append(event)
    elif isinstance(event, StepStarted):
        _attach(Node(event.span, "step", event.factor), event.parent, root, nodes)
        nodes[event.span].events.append(event)
    elif isinstance(event, ToolCall):
        _attach(Node(event.span, "tool", event.tool, text=event.input), event.parent, root, nodes)
        nodes[event.span].events.append(event)
    elif isinstance(event, TextDelta):
        node = nodes.get(event.span, root)
        node.text += event.text
    elif isinstance(event, StepFinished):
        node = nodes.get(event.span, root)
        node.text = event.text
        node.events.append(event)
    elif isinstance(event, (ToolResult, Answer)):
        nodes.get(event.span, root).events.append(event)
    elif isinstance(event, RunFinished):
        root.events.append(event)
    elif isinstance(event, UnknownEvent):
        _apply_unknown(event, root, nodes)
    else:
        _apply_spanned(event, event.type, getattr(event, "span", None), getattr(event, "parent", None), root, nodes)


def _apply_unknown(event: UnknownEvent, root: Node, nodes: dict[str, Node]) -> None:
    record = event.record
    _apply_spanned(event, str(record.get("type", "event")), record.get("span"), record.get("parent"), root, nodes)


def _apply_spanned(event: Event, kind: str, span: object, parent: object, root: Node, nodes: dict[str, Node]) -> None:
    """Join the node the event names, open a new node under its parent, or land on the root."""
    if isinstance(span, str) and span in nodes:
        nodes[span].events.append(event)
    elif isinstance(span, str) and span and isinstance(parent, str):
        _attach(Node(span, kind, kind), parent, root, nodes)
        nodes[span].events.append(event)
    else:
        root.events.append(event)

