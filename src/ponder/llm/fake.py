"""A scripted backend for tests and offline demos: answers every call from a handler and
records it, as httpx's MockTransport answers requests.

The handler sees the call (prompt and sampling, whose `purpose` names what is asked: a factor
such as "verify", or "review", "judge"), so a test states what the model says at a step
(`by_purpose({"verify": CODE, ...})`) rather than at a call index. A plain list of outputs is
replayed in order (`queue`), which is what `-m fake:FILE.json` scripts use.

Rules that must hold:
- It honours the same contract as the real backend (stop sequences, max_tokens, one
  Completion at the end) so the engine cannot tell it apart by behaviour.
- It simulates a KV cache the way llama.cpp's prefix matching does, so tests can assert
  that the engine keeps its transcript append-only; in a batch each request is charged only
  for the prompt tokens no sequence it could start from holds (what is cached, or any
  request of the batch), and every step advances each live request by one token.
- Its handlers are safe to call from several threads at once (a cycled script is never
  seen empty between its pop and its return to the queue).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Sequence, Union

from ponder.errors import ModelError
from ponder.llm.backend import (
    Completion,
    Delta,
    ManyItem,
    Request,
    Sampling,
    SeqDelta,
    SeqDone,
    StreamItem,
    common_prefix,
)
from ponder.llm.stops import StopScanner

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)

Script = Union[str, Callable[[str], str]]
Chooser = Callable[[str, Sequence[str]], Sequence[float]]


def fake_tokens(text: str) -> list[str]:
    """Split text into the fake backend's tokens (words, spaces and punctuation)."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class FakeCall:
    """One recorded call: the prompt and how it was sampled."""

    prompt: str
    sampling: Sampling

    @property
    def purpose(self) -> str:
        """What the caller asked for (a factor name, "review", "judge"), or ""."""
        return self.sampling.purpose


Handler = Callable[[FakeCall], str]


def queue(outputs: Sequence[Script], cycle: bool = False) -> Handler:
    """A handler that replays `outputs` in order, whatever is asked ("" when they run out)."""
    pending = list(outputs)
    lock = threading.Lock()  # items of `batch --concurrency` ask from several threads at once

    def answer(call: FakeCall) -> str:
        with lock:
            script = pending.pop(0) if pending else ""
            if cycle:
                pending.append(script)
        return script(call.prompt) if callable(script) else script

    return answer


def by_purpose(says: Mapping[str, Script | Sequence[Script]]) -> Handler:
    """A handler that answers by what is asked: a script per purpose, or a list of them used in
    turn (the last one repeats). A purpose the mapping does not name is a ModelError."""
    turns: dict[str, int] = {}
    lock = threading.Lock()

    def answer(call: FakeCall) -> str:
        if call.purpose not in says:
            raise ModelError(f"the fake model has no script for {call.purpose!r}")
        scripts = says[call.purpose]
        if isinstance(scripts, (str, bytes)) or callable(scripts):
            script = scripts
        else:
            with lock:
                turn = turns.get(call.purpose, 0)
                turns[call.purpose] = turn + 1
            script = scripts[min(turn, len(scripts) - 1)]
        return script(call.prompt) if callable(script) else str(script)

    return answer


class FakeBackend:
    """Answers each call from its handler (by default: `outputs` replayed in order)."""

    name = "fake"

    def __init__(self, outputs: Sequence[Script] = (), confidence: float = 0.9, delay: float = 0.0,
                 cycle: bool = False, chooser: Chooser | None = None, *, handler: Handler | None = None) -> None:
        if handler is not None and outputs:
            raise ValueError("give a handler or outputs, not both")
        self.handler = handler or queue(outputs, cycle)
        self.calls: list[FakeCall] = []
        self.confidence = confidence
        self.delay = delay
        self._cached: list[str] = []
        self.chooser = chooser
        self.choices: list[tuple[str, tuple[str, ...]]] = []
        self.batches: list[int] = []  # the most sequences each batch held at once, in order
        self._held: list[list[str]] = []  # what the sequences of batches left cached

    def asked(self, purpose: str) -> list[FakeCall]:
        """The recorded calls that asked for `purpose`, in order."""
        return [call for call in self.calls if call.purpose == purpose]

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str:
        """ChatML, as Qwen models use it."""
        parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
        return "".join(parts) + "<|im_start|>assistant\n"

    def count_tokens(self, text: str) -> int:
        """Number of fake tokens in `text`."""
        return len(fake_tokens(text))

    def choose(self, prompt: str, options: Sequence[str]) -> list[float]:
        """The chooser's weights for the options, renormalized (uniform without a chooser)."""
        self.choices.append((prompt, tuple(options)))
        weights = [float(w) for w in self.chooser(prompt, options)] if self.chooser else [1.0] * len(options)
        total = sum(weights)
        return [w / total for w in weights] if total > 0 else [1.0 / len(options)] * len(options)

    def stream(self, prompt: str, sampling: Sampling) -> Iterator[StreamItem]:
        """Stream the handler's answer to this call."""
        prompt_tokens = fake_tokens(prompt)
        evaluated = len(prompt_tokens) - common_prefix(self._cached, prompt_tokens)
        held: list[list[str]] = []
        yield from self._answer(FakeCall(prompt, sampling), prompt_tokens, evaluated, held)
        self._cached = held[0]

    def open_batch(self) -> "FakeBatch":
        """A batch whose requests advance one token per step, side by side."""
        self.batches.append(0)
        return FakeBatch(self)

    def _answer(self, call: FakeCall, prompt_tokens: list[str], evaluated: int,
                held: list[list[str]]) -> Iterator[StreamItem]:
        """One call's stream: its Deltas, then its Completion; appends what it leaves cached to `held`."""
        self.calls.append(call)
        start = time.perf_counter()
        output = self.handler(call)
        sampling = call.sampling
        scanner = StopScanner(sampling.stop)
        pieces: list[str] = []
        emitted: list[str] = []
        reason = "eos"
        for piece in fake_tokens(output):
            if len(pieces) >= sampling.max_tokens:
                reason = "length"
                break
            if self.delay:
                time.sleep(self.delay)
            pieces.append(piece)
            text = scanner.feed(piece)
            if text:
                emitted.append(text)
                yield Delta(text, self.confidence)
            if scanner.stopped:
                reason = "stop"
                break
        tail = scanner.flush()
        if tail:
            emitted.append(tail)
            yield Delta(tail, self.confidence)
        held.append(prompt_tokens + pieces)
        self._held = [*self._held[-15:], prompt_tokens + pieces]
        yield Completion(
            text="".join(emitted),
            stop_reason=reason,
            completion_tokens=len(pieces),
            prompt_tokens=len(prompt_tokens),
            prompt_tokens_evaluated=evaluated,
            seconds=time.perf_counter() - start,
            confidences=tuple(self.confidence for _ in pieces),
        )


class FakeBatch:
    """The fake's Batch: each added request's stream, advanced one item per step."""

    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self.streams: dict[int, Iterator[StreamItem]] = {}
        self.known: list[list[str]] = [backend._cached, *backend._held]
        self.added = 0

    def add(self, request: Request) -> int:
        """Start a request, charged for the prompt tokens no known sequence holds."""
        tokens = fake_tokens(request.prompt)
        evaluated = len(tokens) - max(common_prefix(k, tokens) for k in self.known)
        self.known.append(tokens)
        call = FakeCall(request.prompt, request.sampling)
        self.streams[self.added] = self.backend._answer(call, tokens, evaluated, [])
        self.added += 1
        batches = self.backend.batches
        batches[-1] = max(batches[-1], len(self.streams))
        return self.added - 1

    def step(self) -> list[ManyItem]:
        """One item of every live request's stream."""
        out: list[ManyItem] = []
        for index, stream in list(self.streams.items()):
            item = next(stream)
            if isinstance(item, Delta):
                out.append(SeqDelta(index, item))
            else:
                out.append(SeqDone(index, item))
                del self.streams[index]
        return out

    @property
    def live(self) -> int:
        """Requests still streaming."""
        return len(self.streams)

    def close(self) -> None:
        """Abandon what is still streaming."""
        self.streams.clear()
