"""The run list: one summary per trace file in a directory, newest first, filterable.

Rules that must hold:
- Scanning is pure reading: a summary comes from a trace's first line (the question) and its
  tail (the answer and totals), so a long list of large traces stays quick to open. Each file
  is opened through `ponder.inputs` (regular files only) and at most `HEAD_BYTES + TAIL_BYTES` of it read.
- Lines are parsed by `source.parse`, so every event in a summary has the types it declares.
- A file that is not a trace, is damaged, or cannot be read, is still listed, marked as such;
  never raises.
- Times are UTC, from the trace's own timestamps (the file's mtime only when it has none).
- The turns of a `ponder chat` session (RunStarted params `chat`: session, turn, question as
  typed) are listed together, the session where its newest turn would be, and show the
  question as typed rather than the conversation it was asked with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ponder.cli.viewer.source import parse, split_lines
from ponder.errors import UsageError
from ponder.inputs import MAX_QUESTION_BYTES, open_regular
from ponder.trace.events import Answer, Event, RunFinished, RunStarted, as_float

TAIL_BYTES = 64 * 1024
HEAD_BYTES = 8 * MAX_QUESTION_BYTES  # the first line: run_started with a question escaped up to 6 bytes a byte


@dataclass(frozen=True)
class RunSummary:
    """One row of the run list."""

    path: Path
    run: str
    started: float
    question: str
    answer: str
    status: str
    strategy: str = ""
    model: str = ""
    tokens: int | None = None
    seconds: float | None = None
    session: str = ""  # the `ponder chat` session the run is a turn of
    turn: int | None = None

    def haystack(self) -> str:
        """The text a filter query is matched against (lower case)."""
        parts = (self.run, self.question, self.answer, self.status, self.strategy, self.model, self.path.name,
                 self.session)
        return "\n".join(parts).lower()


def scan(directory: Path) -> list[RunSummary]:
    """Summaries of every *.jsonl trace in a directory, newest first."""
    try:
        paths = [p for p in directory.iterdir() if p.suffix == ".jsonl" and p.is_file()]
    except OSError:
        return []
    runs = [summarize_file(p) for p in paths]
    newest: dict[str, float] = {}  # a chat session -> the start of its newest turn
    for run in runs:
        if run.session:
            newest[run.session] = max(newest.get(run.session, run.started), run.started)
    return sorted(runs, key=lambda r: (newest.get(r.session, r.started), r.session, r.started, r.path.name),
                  reverse=True)


def filter_runs(runs: list[RunSummary], query: str) -> list[RunSummary]:
    """The runs whose text contains every word of the query (case-insensitive)."""
    words = query.lower().split()
    return [r for r in runs if all(w in r.haystack() for w in words)]


def summarize_file(path: Path) -> RunSummary:
    """Summarize one trace file from its head and tail."""
    try:
        head, tail, why = _head_and_tail(path)
        mtime = path.stat().st_mtime
    except OSError as exc:
        return RunSummary(path, path.stem, 0.0, f"(cannot read: {exc.strerror or exc})", "", "unreadable")
    except UsageError as exc:
        return RunSummary(path, path.stem, 0.0, f"(cannot read: {exc})", "", "unreadable")
    return summarize_events(path, head, tail, mtime, why)


def summarize_events(path: Path, head: list[Event], tail: list[Event], mtime: float, why: str = "") -> RunSummary:
    """A summary from the first events and the last events of a trace (`why`: what was wrong with its first line)."""
    started = next((e for e in head if isinstance(e, RunStarted)), None)
    if started is None:
        return RunSummary(path, path.stem, mtime, f"(not a ponder trace{': ' + why if why else ''})", "", "invalid")
    finished = next((e for e in reversed(tail) if isinstance(e, RunFinished)), None)
    answer = next((e for e in reversed(tail) if isinstance(e, Answer)), None)
    usage = finished.usage if finished else {}
    text = finished.answer if finished and finished.answer else (answer.text if answer else "")
    chat = started.params.get("chat") if isinstance(started.params, dict) else None
    chat = chat if isinstance(chat, dict) else {}
    typed, session = chat.get("question"), chat.get("session")
    return RunSummary(
        path, started.run, started.ts, typed if isinstance(typed, str) else started.question, text or "",
        finished.status if finished else "running", started.strategy, started.model,
        _int(usage.get("completion_tokens")), as_float(usage.get("seconds")),
        session if isinstance(session, str) else "", _int(chat.get("turn")),
    )


def _head_and_tail(path: Path) -> tuple[list[Event], list[Event], str]:
    with open_regular(path, "trace") as f:
        first = f.readline(HEAD_BYTES)
        size = f.seek(0, 2)
        start = max(0, size - TAIL_BYTES)
        f.seek(start)
        data = f.read(TAIL_BYTES)
    head = parse(split_lines(first, whole_only=True)[0])
    lines, _ = split_lines(data, whole_only=False)
    if start > 0 and lines:
        lines = lines[1:]
    return head.events, parse(lines).events, head.warnings[0] if head.warnings else ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
