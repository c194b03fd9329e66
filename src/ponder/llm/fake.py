"""A scripted backend for tests and offline demos: replays outputs and records every call.

Rules that must hold:
- It honours the same contract as the real backend (stop sequences, max_tokens, one
  Completion at the end) so the engine cannot tell it apart by behaviour.
- It simulates a KV cache the way llama.cpp's prefix matching does, so tests can assert
  that the engine keeps its transcript append-only.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence, Union

from ponder.llm.backend import Completion, Delta, Sampling, StreamItem
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


class FakeBackend:
    """Replays scripted outputs in order; a script may be a string or a function of the prompt."""

    name = "fake"

    def __init__(self, outputs: Sequence[Script] = (), confidence: float = 0.9, delay: float = 0.0,
                 cycle: bool = False, chooser: Chooser | None = None) -> None:
        self._queue: list[Script] = list(outputs)
        self._cycle = cycle
        self.calls: list[FakeCall] = []
        self.confidence = confidence
        self.delay = delay
        self._cached: list[str] = []
        self.chooser = chooser
        self.choices: list[tuple[str, tuple[str, ...]]] = []

    def enqueue(self, *outputs: Script) -> None:
        """Add outputs to replay."""
        self._queue.extend(outputs)

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
        """Replay the next scripted output as a stream."""
        self.calls.append(FakeCall(prompt, sampling))
        start = time.perf_counter()
        prompt_tokens = fake_tokens(prompt)
        evaluated = len(prompt_tokens) - _common_prefix(self._cached, prompt_tokens)
        script = self._queue.pop(0) if self._queue else ""
        if self._cycle:
            self._queue.append(script)
        output = script(prompt) if callable(script) else script
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
        self._cached = prompt_tokens + pieces
        yield Completion(
            text="".join(emitted),
            stop_reason=reason,
            completion_tokens=len(pieces),
            prompt_tokens=len(prompt_tokens),
            prompt_tokens_evaluated=evaluated,
            seconds=time.perf_counter() - start,
            confidences=tuple(self.confidence for _ in pieces),
        )


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
