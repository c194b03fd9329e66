"""Fold a stream of events into the tree of a run: run -> rounds -> steps -> tool calls.

Rules that must hold:
- Folding is a pure function of the events: the live stream and the same trace read back
  fold into equal trees.
- Every event lands somewhere: an event whose parent is unknown hangs off the root, and
  unknown event types are kept on the root, never dropped silently.
- A span names one node: an event that would open a span already open (the run's own span
  included) joins that node instead, so parents always come before children and the tree
  never loops.
- An event of another kind (review verdicts, scored candidates, or an unknown type from a newer
  ponder) that names a new `span` and a `parent` opens a
  generic node of its type, so future node kinds (search branches, candidates) nest in place;
  one that names a known span joins that node's events.
- Folding is linear in the events: a node's streamed text is a list of parts, joined once
  when it is read (never `text +=` per delta), and `Folding` takes events in batches so a
  followed trace is folded once, not again from the start at every batch.
- Folding never raises on a value of the wrong type: text that is not a string is not text.
- The tree is at most `MAX_DEPTH` deep: a node that would nest deeper hangs off the root, so
  whatever walks the tree (the viewer, the export) never recurses without bound.
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

MAX_DEPTH = 64  # levels below the run; a real run nests a handful (round, step, search, tool)


@dataclass
class Node:
    """One node of a run's tree: the run, a round, a step or a tool call."""

    span: str
    kind: str
    label: str
    parent: str | None = None
    depth: int = 0
    parts: list[str] = field(default_factory=list)  # the node's text, in pieces; read `text`
    children: list["Node"] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The node's text: its parts joined (once; the joined text replaces them)."""
        if len(self.parts) > 1:
            self.parts[:] = ["".join(self.parts)]
        return self.parts[0] if self.parts else ""

    def set_text(self, text: object) -> None:
        """Replace the node's text (a value that is not a string leaves it empty)."""
        self.parts[:] = [text] if isinstance(text, str) and text else []

    def add_text(self, text: object) -> None:
        """Append a streamed piece of text (a value that is not a string is ignored)."""
        if isinstance(text, str) and text:
            self.parts.append(text)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        return (self.span, self.kind, self.label, self.parent, self.text, self.children, self.events) == (
            other.span, other.kind, other.label, other.parent, other.text, other.children, other.events)

    def walk(self) -> Iterable["Node"]:
        """This node and all below it, depth first."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


class Folding:
    """A tree being folded: feed it events (all at once, or batch by batch as a trace grows)."""

    def __init__(self) -> None:
        self.root = Node(span="run", kind="run", label="run")
        self.nodes: dict[str, Node] = {"run": self.root}

    def add(self, events: Iterable[Event]) -> Node:
        """Fold more events into the tree; return its root."""
        for event in events:
            _apply(event, self.root, self.nodes)
        return self.root


def fold(events: Iterable[Event]) -> Node:
    """Build the tree of one run from its events."""
    return Folding().add(events)


def _open(node: Node, event: Event, parent_span: object, root: Node, nodes: dict[str, Node]) -> None:
    """Attach a new node under its parent with its opening event; a span already open only
    gets the event (a span names one node, so the tree can never loop)."""
    if node.span in nodes:
        nodes[node.span].events.append(event)
        return
    parent = _node_of(parent_span, root, nodes)
    if parent.depth >= MAX_DEPTH:
        parent = root
    node.parent, node.depth = parent.span, parent.depth + 1
    parent.children.append(node)
    nodes[node.span] = node
    node.events.append(event)


def _node_of(span: object, root: Node, nodes: dict[str, Node]) -> Node:
    return nodes.get(span, root) if isinstance(span, str) else root


def _apply(event: Event, root: Node, nodes: dict[str, Node]) -> None:
    if isinstance(event, RunStarted):
        root.label = event.question
        root.events.append(event)
    elif isinstance(event, RoundStarted):
        _open(Node(event.span, "round", f"round {event.index}"), event, event.parent, root, nodes)
    elif isinstance(event, StepStarted):
        _open(Node(event.span, "step", event.factor), event, event.parent, root, nodes)
    elif isinstance(event, ToolCall):
        node = Node(event.span, "tool", event.tool)
        node.set_text(event.input)
        _open(node, event, event.parent, root, nodes)
    elif isinstance(event, TextDelta):
        _node_of(event.span, root, nodes).add_text(event.text)
    elif isinstance(event, StepFinished):
        node = _node_of(event.span, root, nodes)
        node.set_text(event.text)
        node.events.append(event)
    elif isinstance(event, (ToolResult, Answer)):
        _node_of(event.span, root, nodes).events.append(event)
    elif isinstance(event, RunFinished):
        root.events.append(event)
    elif isinstance(event, UnknownEvent):
        _apply_unknown(event, root, nodes)
    else:
        _apply_spanned(event, event.type, getattr(event, "span", None), getattr(event, "parent", None), root, nodes)


def _apply_unknown(event: UnknownEvent, root: Node, nodes: dict[str, Node]) -> None:
    record = event.record
    kind = record.get("type")
    _apply_spanned(event, kind if isinstance(kind, str) else "event", record.get("span"), record.get("parent"), root, nodes)


def _apply_spanned(event: Event, kind: str, span: object, parent: object, root: Node, nodes: dict[str, Node]) -> None:
    """Join the node the event names, open a new node under its parent, or land on the root."""
    if isinstance(span, str) and span in nodes:
        nodes[span].events.append(event)
    elif isinstance(span, str) and span and isinstance(parent, str):
        _open(Node(span, kind, kind), event, parent, root, nodes)
    else:
        root.events.append(event)

