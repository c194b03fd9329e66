"""All custom Textual messages of the viewer, in one place (as in Textualize/toolong).

Rule that must hold: messages are small values; a worker thread only ever posts these, and
widgets change only in their handlers on the app's thread.
"""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from ponder.trace.events import Event


class TraceAppended(Message):
    """The followed trace grew: new events, warnings about damaged lines, and whether a
    partial last line is still waiting for its end."""

    def __init__(self, events: list[Event], warnings: list[str], pending: bool) -> None:
        super().__init__()
        self.events = events
        self.warnings = warnings
        self.pending = pending


class FollowFailed(Message):
    """The followed trace could not be read any more."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class OpenRun(Message):
    """The user chose a run in the run list."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
