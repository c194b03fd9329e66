"""How the engine calls the model: it asks (`complete` yields a ModelCall) and whoever drives
it answers, one call at a time (`drive`) or several pieces of work side by side, their calls
decoded together (`drive_together`); and how a step's StepFinished is built from its calls.

Rules that must hold:
- Every model call of a run is a ModelCall that a driver streams as TextDeltas of the
  call's span (so the text reaches the trace as it is generated) before sending the
  Completion back; every step's usage is built by `step_finished` from its Completions.
- Driving never reorders one piece of work's events; side by side, each piece runs until it
  asks for the model, its call joins one batch (`llm.backend.open_batch`), and the moment
  its answer is complete it runs on to its next call, which joins the same batch while the
  others still generate. Their deltas interleave in the stream, each under its own span.
- A fresh-context call (review, judge) starts from a new chat prompt (`fresh_prompt`), never
  from a chain's transcript; untrusted text in it is neutralized by the caller.
- `Sampling.purpose` names what is asked (a factor or a critic's call); backends never
  change behaviour on it, only the fake backend routes its scripts by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator, Sequence, TypeVar, Union

from ponder.llm.backend import Backend, Batch, Completion, Delta, Request, Sampling, SeqDelta, open_batch
from ponder.trace.events import Event, StepFinished, TextDelta

T = TypeVar("T")


@dataclass(frozen=True)
class ModelCall:
    """A completion the engine asks for, to be streamed under `span` of run `run_id`."""

    request: Request
    run_id: str
    span: str


Work = Generator[Union[Event, ModelCall], Union[Completion, None], T]


def complete(prompt: str, sampling: Sampling, run_id: str, span: str) -> Generator[ModelCall, Completion, Completion]:
    """Ask for one completion of `prompt`; return it once the driver sends it back."""
    completion = yield ModelCall(Request(prompt, sampling), run_id, span)
    return completion


def drive(backend: Backend, work: Work[T]) -> Generator[Event, None, T]:
    """Run `work` to its end, answering its model calls one at a time; return its result."""
    reply: Completion | None = None
    while True:
        try:
            item = work.send(reply)  # type: ignore[arg-type]
        except StopIteration as stop:
            return stop.value
        reply = None
        if isinstance(item, ModelCall):
            reply = yield from _answer_one(backend, item)
        else:
            yield item


def drive_together(backend: Backend, works: Sequence[Work[T]]) -> Generator[Event, None, list[T]]:
    """Run several pieces of work side by side, their model calls decoded together in one
    batch (continuously: a piece that gets its answer asks its next call at once); return
    their results in order."""
    if len(works) == 1:
        return [(yield from drive(backend, works[0]))]
    results: list[Any] = [None] * len(works)
    replies: dict[int, Completion | None] = {i: None for i in range(len(works))}
    batch = open_batch(backend)
    asked: dict[int, tuple[int, ModelCall]] = {}  # batch index -> (work index, its call)
    try:
        for index in range(len(works)):
            yield from _ask(batch, works, index, replies, results, asked)
        while batch.live:
            for item in batch.step():
                index, call = asked[item.index]
                if isinstance(item, SeqDelta):
                    yield TextDelta(call.run_id, span=call.span, text=item.delta.text)
                    continue
                del asked[item.index]
                replies[index] = item.completion
                yield from _ask(batch, works, index, replies, results, asked)
    finally:
        batch.close()
    return results


def _ask(batch: Batch, works: Sequence[Work[Any]], index: int, replies: dict[int, Completion | None],
         results: list[Any], asked: dict[int, tuple[int, ModelCall]]) -> Generator[Event, None, None]:
    """Advance one piece of work to its next model call and add that call to the batch."""
    call = yield from _until_call(works[index], replies, index, results)
    if call is not None:
        asked[batch.add(call.request)] = (index, call)


def _answer_one(backend: Backend, call: ModelCall) -> Generator[Event, None, Completion]:
    completion = None
    for item in backend.stream(call.request.prompt, call.request.sampling):
        if isinstance(item, Delta):
            yield TextDelta(call.run_id, span=call.span, text=item.text)
        else:
            completion = item
    assert isinstance(completion, Completion), "a backend stream must end with a Completion"
    return completion


def _until_call(work: Work[Any], replies: dict[int, Completion | None], index: int,
                results: list[Any]) -> Generator[Event, None, ModelCall | None]:
    """Advance one piece of work to its next model call (None once it has finished)."""
    while True:
        try:
            item = work.send(replies[index])  # type: ignore[arg-type]
        except StopIteration as stop:
            results[index] = stop.value
            return None
        replies[index] = None
        if isinstance(item, ModelCall):
            return item
        yield item


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
        prompt_tokens_sent=sum(c.prompt_tokens for c in calls) if len(calls) > 1 else None,
        seconds=round(sum(c.seconds for c in calls), 3), prompt_seconds=round(sum(c.prompt_seconds for c in calls), 3),
        confidence=rounded(confidence), **fields,
    )


def first_confidence(completion: Completion) -> float | None:
    """The confidence of a completion's first token, if known."""
    return completion.confidences[0] if completion.confidences else None


def rounded(value: float | None) -> float | None:
    """A score as the trace records it: four decimals (None stays None)."""
    return None if value is None else round(value, 4)
