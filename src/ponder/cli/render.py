"""Render a run's event stream on stderr with Rich.

Rules that must hold:
- Model text is wrapped in `rich.text.Text` after `visible()`: never parsed as markup,
  never passed through as control sequences.
- Animation (a Live region) only when stderr is a terminal; otherwise plain lines, no
  colour, no escape bytes.
- Modes: `show` prints each finished step in full, `collapse` prints one line per finished
  step (the live region streams the step in progress), `hide` prints nothing.
- Steps decoded side by side (a wave of samples, a beam's expansions) are tracked by span:
  the live region shows one line each (round, factor, tokens so far, the candidate answer
  it has reached), and each collapses to its finished line as it ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from ponder.cli.safe import visible
from ponder.trace.events import (
    CandidateScored,
    Event,
    ReviewVerdict,
    RoundStarted,
    RunFinished,
    VoteTally,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolCall,
    ToolResult,
)

MODES = ("show", "collapse", "hide")
_CANDIDATE = re.compile(r"candidate answer\s*[:=]\s*(.+)", re.I)
LIVE_LINES = 8
_OUTCOME_MARK = {"pass": "✓", "fail": "✗", "none": "·"}
_OUTCOME_STYLE = {"pass": "green", "fail": "red", "none": "dim"}


@dataclass
class _Active:
    """A step in progress: its factor, round and the text so far."""

    factor: str
    round: int | None
    text: str = ""
    pieces: int = 0


class ReasoningView:
    """Shows the factor steps of a run as they stream."""

    def __init__(self, mode: str, stream: IO[str] | None = None) -> None:
        self.mode = mode
        self.console = Console(file=stream, stderr=stream is None, highlight=False, soft_wrap=False)
        self.animated = self.console.is_terminal and mode != "hide"
        self._live: Live | None = None
        self._active: dict[str, _Active] = {}
        self._rounds: dict[str, int] = {}  # round span -> its index
        self._parents: dict[str, str] = {}  # step span -> the round (or step) it hangs off

    def handle(self, event: Event) -> None:
        """Update the display for one event."""
        if self.mode == "hide":
            return
        if isinstance(event, RoundStarted):
            self._rounds[event.span] = event.index
        if isinstance(event, StepStarted):
            self._parents[event.span] = event.parent or ""
            self._active[event.span] = _Active(event.factor, self._round_of(event.span))
            self._start_live()
        elif isinstance(event, TextDelta):
            active = self._active.get(event.span or "")
            if active is not None:
                active.text += event.text
                active.pieces += 1
                self._refresh()
        elif isinstance(event, ToolCall) and self.mode == "show":
            self._print(Text(f"  ⚙ running {event.tool} check…", style="dim"))
        elif isinstance(event, ToolResult):
            self._print(_tool_line(event))
        elif isinstance(event, StepFinished):
            self._active.pop(event.span or "", None)
            if not self._active:
                self._stop_live()
            self._print(self._finished(event))
        elif isinstance(event, (RoundStarted, ReviewVerdict, CandidateScored, VoteTally)):
            self._print(_search_line(event))
        elif isinstance(event, RunFinished):
            self.close()

    def close(self) -> None:
        """Stop any animation."""
        self._stop_live()

    def _finished(self, event: StepFinished) -> Text | Group:
        mark = _OUTCOME_MARK.get(event.outcome, "·")
        head = Text()
        head.append(f"{mark} ", style=_OUTCOME_STYLE.get(event.outcome, "dim"))
        head.append(f"{event.factor:<11}", style="bold cyan")
        head.append(f" {event.seconds:5.1f}s {event.completion_tokens:4d} tok  ", style="dim")
        if self.mode == "collapse":
            head.append(_one_line(event.text, self.console.width - len(head.plain) - 1))
            return head
        body = Text(visible(event.text), style="")
        parts: list[Text] = [head, _indent(body)]
        if event.observation:
            parts.append(_indent(Text("observation: " + visible(event.observation), style="yellow")))
        return Group(*parts)

    def _round_of(self, span: str) -> int | None:
        seen = set()
        while span in self._parents and span not in seen:
            seen.add(span)
            span = self._parents[span]
        return self._rounds.get(span)

    def _start_live(self) -> None:
        if not self.animated:
            return
        if self._live is not None:
            self._refresh()
            return
        self._live = Live(self._current(), console=self.console, transient=True, auto_refresh=True,
                          refresh_per_second=12, vertical_overflow="crop")
        self._live.start()

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._current())

    def _current(self) -> Text:
        if len(self._active) > 1:
            return self._side_by_side()
        active = next(iter(self._active.values()), _Active("", None))
        lines = visible(active.text).splitlines()[-LIVE_LINES:]
        text = Text(no_wrap=True, overflow="ellipsis")  # a long line is one row, so the live region fits the screen
        text.append(f"… {active.factor}\n", style="bold cyan")
        text.append("\n".join("  " + line for line in lines), style="dim")
        return text

    def _side_by_side(self) -> Text:
        """One line per step in progress: round, factor, pieces streamed, answer so far."""
        text = Text()
        for i, active in enumerate(self._active.values()):
            if i:
                text.append("\n")
            where = f"r{active.round}" if active.round is not None else "  "
            text.append(f"… {where:<4}", style="dim")
            text.append(f"{active.factor:<11}", style="bold cyan")
            text.append(f" {active.pieces:4d} tok  ", style="dim")
            found = _CANDIDATE.findall(active.text)
            tail = f"→ {found[-1]}" if found else (visible(active.text).splitlines() or [""])[-1]
            text.append(_one_line(tail, self.console.width - 24))
        return text

    def _print(self, renderable: Text | Group) -> None:
        if self._live is not None:
            self._live.console.print(renderable)
        else:
            self.console.print(renderable)


def _search_line(event: Event) -> Text:
    """One line for a round starting, a review verdict, a scored candidate or a vote tally."""
    text = Text()
    if isinstance(event, RoundStarted):
        text.append(f"── round {event.index} ──", style="bold")
    elif isinstance(event, ReviewVerdict):
        accepted = event.verdict == "accept"
        text.append("✓ review ACCEPT " if accepted else "↺ review REVISE ", style="green" if accepted else "yellow")
        text.append(_one_line(f"{event.answer}: {event.reasons}", 70))
    elif isinstance(event, CandidateScored):
        text.append(f"  ◆ candidate {_one_line(event.answer or '-', 20)}  score {event.score:.3f} ({event.rule})",
                    style="dim")
    elif isinstance(event, VoteTally):
        votes = ", ".join(f"{_one_line(str(g.get('answer')), 20)}×{g.get('votes')}" for g in event.groups)
        text.append(f"▣ vote {votes or '-'} → {_one_line(event.winner or '-', 20)} ({event.stopped})", style="bold")
    return text


def _tool_line(event: ToolResult) -> Text:
    style = "green" if event.status == "ok" else "red"
    out = event.output.strip().splitlines()
    shown = out[-1] if out else (event.error.strip().splitlines() or [""])[-1]
    text = Text("  ⚙ ", style="dim")
    text.append(event.status, style=style)
    text.append(f" {event.seconds:.2f}s ", style="dim")
    text.append(_one_line(shown, 70))
    return text


def _one_line(text: str, width: int) -> str:
    flat = " ".join(visible(text).split())
    width = max(width, 10)
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _indent(text: Text) -> Text:
    lines = text.split("\n")
    out = Text()
    for i, line in enumerate(lines):
        if i:
            out.append("\n")
        out.append("  ")
        out.append_text(line)
    return out
