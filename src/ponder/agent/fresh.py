"""Model calls in a fresh context (review, judge): a new chat prompt, never a chain's transcript.

Rules that must hold:
- The engine writes the opening of the assistant's reply; the model's first word is
  restricted by a GBNF grammar, so a small model's verdict stays machine-readable.
- A fresh-context call is a step of its own (StepStarted/StepFinished with its factor name),
  so its tokens count in the run's usage and its budget.
- Untrusted text (question, answer, tool output, reasons) is neutralized before it is rendered.
"""

from __future__ import annotations

from typing import Generator

from ponder.llm.backend import Backend, Completion, Delta, Sampling
from ponder.trace.events import Event, TextDelta


def complete(backend: Backend, prompt: str, sampling: Sampling, run_id: str, span: str) -> Generator[Event, None, Completion]:
    """Stream one completion as TextDeltas of `span`; return its Completion."""
    completion = None
    for item in backend.stream(prompt, sampling):
        if isinstance(item, Delta):
            yield TextDelta(run_id, span=span, text=item.text)
        else:
            completion = item
    assert isinstance(completion, Completion), "a backend stream must end with a Completion"
    return completion


def first_confidence(completion: Completion) -> float | None:
    """The confidence of a completion's first token, if known."""
    return completion.confidences[0] if completion.confidences else None
