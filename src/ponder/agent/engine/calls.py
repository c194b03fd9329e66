"""One way to call the model from the engine: stream a completion as TextDeltas of a step, and
build that step's StepFinished from what the calls cost.

Rules that must hold:
- Every model call of a run goes through `complete`, so its text reaches the trace as it is
  generated, and every step's usage is built by `step_finished` from its Completions.
- A fresh-context call (review, judge) starts from a new chat prompt (`fresh_prompt`), never
  from a chain's transcript; untrusted text in it is neutralized by the caller.
- `Sampling.purpose` names what is asked (a factor or a critic's call); backends never
  change behaviour on it, only the fake backend routes its scripts by it.
"""

from __future__ import annotations

from typing import Any, Generator, Sequence

from ponder.llm.backend import Backend, Completion, Delta, Sampling
from ponder.trace.events import Event, StepFinished, TextDelta


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


def fresh_prompt(backend: Backend, system: str, user: str, opening: str = "") -> str:
    """A new chat prompt (system and user turns), ending with what the engine writes first."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return backend.chat_prompt(messages) + opening


def step_finished(run_id: str, span: str, factor: str, text: str, calls: Sequence[Completion],
                  confidence: float | None, **fields: Any) -> StepFinished:
    """The StepFinished of a step whose model calls were `calls` (usage summed over them)."""
    last = calls[-1]
    return StepFinished(
        run_id, span=span, factor=factor, text=text.strip(), stop_reason=last.stop_reason,
        completion_tokens=sum(c.completion_tokens for c in calls), prompt_tokens=last.prompt_tokens,
        prompt_tokens_evaluated=sum(c.prompt_tokens_evaluated for c in calls),
        seconds=round(sum(c.seconds for c in calls), 3), prompt_seconds=round(sum(c.prompt_seconds for c in calls), 3),
        confidence=rounded(confidence), **fields,
    )


def first_confidence(completion: Completion) -> float | None:
    """The confidence of a completion's first token, if known."""
    return completion.confidences[0] if completion.confidences else None


def rounded(value: float | None) -> float | None:
    """A score as the trace records it: four decimals (None stays None)."""
    return None if value is None else round(value, 4)
