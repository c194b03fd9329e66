"""Tree labels and the chosen path, computed from the folded tree (`trace.tree.fold`).

Rules that must hold:
- Labels are `rich.text.Text` on one line, never markup; every value in them comes from the
  trace through `display` (`shown`, `number`, `one_line`), whatever its type.
- The chosen path is the steps that led to the final answer: the step the `answer` event
  names, the steps before it in its round, and their ancestors. In a search tree (a step
  whose parent is a step) earlier siblings are alternatives, so only ancestors are marked.
- A search node shows its statistics from its SearchNode record: visits and mean value when
  MCTS visited it, else its score.
- Any node kind this version does not know gets a generic label (its kind), not an error.
"""

from __future__ import annotations

from typing import TypeVar

from rich.text import Text

from ponder.cli.viewer.display import number, one_line, shown
from ponder.trace.events import Answer, Event, SearchNode, StepFinished, ToolResult, UnknownEvent
from ponder.trace.tree import Node

OUTCOME_MARKS = {"pass": ("✓", "green"), "fail": ("✗", "red"), "error": ("!", "red")}
TOOL_OK = {"ok", "true", "value"}
E = TypeVar("E", bound=Event)


def answer_span(root: Node) -> str | None:
    """The span of the step the run's answer came from, if any."""
    for node in root.walk():
        if any(isinstance(e, Answer) for e in node.events) and node is not root:
            return node.span
    return None


def chosen_spans(root: Node) -> set[str]:
    """Spans on the chosen path: the answer step, its earlier siblings, and its ancestors."""
    target = answer_span(root)
    if target is None:
        return set()
    by_span = {n.span: n for n in root.walk()}
    node = by_span[target]
    parent = by_span.get(node.parent or "")
    chosen = {target}
    if parent is not None and parent.kind != "step":
        siblings = parent.children[: parent.children.index(node) + 1]
        chosen.update(s.span for s in siblings)
    while parent is not None:
        chosen.add(parent.span)
        parent = by_span.get(parent.parent or "")
    return chosen


def node_label(node: Node, chosen: set[str], answer: str | None) -> Text:
    """The one-line tree label of a node."""
    label = _body(node, answer)
    if node.span == answer:
        label = Text.assemble(("★ ", "bold"), label)
        label.stylize("bold")
    elif chosen and node.kind == "step" and node.span not in chosen:
        label.stylize("dim")
    return label


def event_label(event: Event) -> Text:
    """The label of an event kept on the run itself (e.g. an unknown type)."""
    kind = event.record.get("type", "event") if isinstance(event, UnknownEvent) else event.type
    return Text.assemble(("? ", "bold yellow"), one_line(kind, 40))


def _body(node: Node, answer: str | None) -> Text:
    if node.kind == "run":
        return Text.assemble(("run ", "bold"), one_line(node.label, 50))
    if node.kind == "round":
        return Text(one_line(node.label), style="bold")
    if node.kind == "step":
        return _step(node, node.span == answer)
    if node.kind == "tool":
        return _tool(node)
    return Text.assemble(("? ", "bold yellow"), one_line(node.kind, 40))


def _step(node: Node, is_answer: bool) -> Text:
    finished = last_of(node.events, StepFinished)
    index = getattr(node.events[0], "index", None) if node.events else None
    label = Text(f"{shown(index)}. " if index is not None else "")
    label.append(one_line(node.label), style="bold")
    if finished is None:
        label.append("  …", style="italic")
        return label
    given = last_of(node.events, Answer)
    if is_answer and given is not None:
        label.append(f" → {one_line(given.text, 20)}")
    mark = OUTCOME_MARKS.get(finished.outcome)
    if mark:
        label.append(f" {mark[0]}", style=mark[1])
    label.append(f"  {number(finished.completion_tokens)} tok {number(finished.seconds, '.1f')}s", style="dim")
    stats = last_of(node.events, SearchNode)
    if stats is not None:
        label.append(f"  {_search_stats(stats)}", style="cyan")
    return label


def _search_stats(stats: SearchNode) -> str:
    if stats.visits:
        return f"N={number(stats.visits)} Q={number(stats.value, '.2f')} P={number(stats.prior, '.2f')}"
    return f"score {number(stats.score, '.2f')}" + (" kept" if stats.kept is True else "")


def _tool(node: Node) -> Text:
    result = last_of(node.events, ToolResult)
    label = Text(one_line(node.label), style="italic")
    if result is None:
        label.append(" …")
    else:
        style = "green" if result.status in TOOL_OK else "red"
        label.append(f" {one_line(result.status, 12)}", style=style)
    label.append(f"  {one_line(node.text, 36)}", style="dim")
    return label


def last_of(events: list[Event], cls: type[E]) -> E | None:
    """The last event of a type among a node's events."""
    return next((e for e in reversed(events) if isinstance(e, cls)), None)
