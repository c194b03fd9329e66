"""A chat's conversation as data: its turns, the question a follow-up is asked with, what fits
the context, the best answer of a stopped run, and the session as Markdown.

Rules that must hold:
- A follow-up sees the earlier turns' questions and final answers, never their reasoning, and
  only turns that finished with an answer. How they are added is one function,
  `with_context`, whose text is the catalogue's `chat_turn` and `chat_question` templates.
- What does not fit is dropped oldest first (`fit`); the caller keeps it dropped.
- Nothing here prints, reads a terminal or imports Rich: the Markdown is a file's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ponder.cli.safe import markdown_inline
from ponder.thought_factors.catalogue import Catalogue, render
from ponder.thought_factors.parsing import candidate_answer
from ponder.trace.events import Answer, CandidateScored, Event, RoundFinished, StepFinished, VoteTally


@dataclass(frozen=True)
class Turn:
    """One question of a chat and what became of it."""

    number: int
    question: str
    status: str  # ok, interrupted, error, or "no answer"
    answer: str | None = None  # the final answer (ok), or the best so far (interrupted)
    strategy: str = ""
    trace: Path | None = None
    error: str = ""

    @property
    def remembered(self) -> bool:
        """Whether a follow-up sees this turn: it finished with an answer."""
        return self.status == "ok" and bool(self.answer)


def with_context(catalogue: Catalogue, turns: Sequence[Turn], question: str) -> str:
    """The question a follow-up is asked as: the remembered turns, oldest first, then `question`."""
    history = [render(catalogue.prompts["chat_turn"], question=t.question, answer=t.answer or "")
               for t in turns if t.remembered]
    if not history:
        return question
    return render(catalogue.prompts["chat_question"], history="\n\n".join(history), question=question)


def fit(catalogue: Catalogue, turns: Sequence[Turn], question: str, fits: Callable[[str], bool]) -> int:
    """How many of the oldest turns to leave out so that the follow-up `fits` (all, when none does)."""
    for dropped in range(len(turns)):
        if fits(with_context(catalogue, turns[dropped:], question)):
            return dropped
    return len(turns)


def best_answer(events: Sequence[Event]) -> str | None:
    """The latest answer a run had reached: its answer, a round's, a vote's winner, a scored
    candidate, or a step's 'Candidate answer:' (None when it reached none)."""
    for event in reversed(events):
        found: str | None = None
        if isinstance(event, Answer):
            found = event.normalized or event.text
        elif isinstance(event, RoundFinished):
            found = event.normalized or event.answer
        elif isinstance(event, VoteTally):
            found = event.winner
        elif isinstance(event, CandidateScored):
            found = event.answer
        elif isinstance(event, StepFinished):
            found = candidate_answer(event.text)
        if found and found.strip():
            return found.strip()
    return None


def to_markdown(session: str, model: str, turns: Sequence[Turn]) -> str:
    """The conversation as a Markdown document: each question quoted, then what it got. What
    was typed, answered or named is text, never Markdown, and no control character of it
    survives (`safe.markdown_inline`)."""
    lines = ["# ponder chat", "", f"- session: {markdown_inline(session)}", f"- model: {markdown_inline(model)}", ""]
    for turn in turns:
        lines += [f"## {turn.number}. {markdown_inline(_title(turn.question))}", ""]
        lines += ["> " + markdown_inline(line, starts_line=True) if line else ">" for line in turn.question.splitlines()]
        lines += ["", _outcome(turn)]
        if turn.trace is not None:
            lines += ["", f"Trace: {markdown_inline(str(turn.trace))} ({markdown_inline(turn.strategy)})"]
        lines.append("")
    return "\n".join(lines)


def _title(question: str) -> str:
    flat = " ".join(question.split())
    return flat if len(flat) <= 60 else flat[:59] + "…"


def _outcome(turn: Turn) -> str:
    if turn.status == "ok" and turn.answer:
        return f"**Answer:** {markdown_inline(turn.answer)}"
    if turn.status == "interrupted":
        return "**Stopped.**" + (f" Best answer so far: {markdown_inline(turn.answer)}" if turn.answer else "")
    return f"**No answer** ({markdown_inline(turn.error or turn.status)})."
