"""The Backend protocol: stream text for a prompt, with stop sequences, a grammar and a seed.

Rules that must hold:
- `stream` yields `Delta`s and ends with exactly one `Completion`; the concatenated delta
  texts equal `Completion.text`, which never contains the matched stop sequence.
- A backend re-uses whatever it already evaluated: a prompt that extends the previous
  prompt plus its output costs only the new tokens, and `prompt_tokens_evaluated` says how
  many were actually evaluated.
- Text going out is plain `str`; backends never print.
- `choose` scores whole options (every token of each), so options that share a first token
  (`<verify>`, `<answer>`) are still told apart; it samples nothing.
- A `Batch` decodes several requests together (each its own prompt, sampling, stops and
  grammar), continuously: a request may join while others generate, and each `step`
  advances every live sequence by one token. Each request gets exactly one `SeqDone`, and
  its `SeqDelta`s concatenate to its Completion's text, as in `stream`. A prompt that
  several requests share is evaluated once. `stream_many` and `sample_n` are built on it. A
  backend without its own batch is served one request after another (`InTurn`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, Sequence, Union, runtime_checkable


@dataclass(frozen=True)
class Sampling:
    """How to sample one completion."""

    temperature: float = 0.0
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.0
    seed: int | None = None
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    grammar: str | None = None
    purpose: str = ""  # what is asked (a factor, "review", "judge"): a label, never a behaviour


@dataclass(frozen=True)
class Delta:
    """A piece of streamed text and the confidence of the tokens behind it."""

    text: str
    confidence: float | None = None


@dataclass(frozen=True)
class Completion:
    """The end of a stream: the whole text and what it cost."""

    text: str
    stop_reason: str  # "stop" (a stop sequence), "eos", or "length"
    completion_tokens: int
    prompt_tokens: int
    prompt_tokens_evaluated: int
    seconds: float
    confidences: tuple[float, ...] = field(default=())
    prompt_seconds: float = 0.0

    @property
    def mean_confidence(self) -> float | None:
        """Mean top-token probability over the completion, if known."""
        if not self.confidences:
            return None
        return sum(self.confidences) / len(self.confidences)


StreamItem = Union[Delta, Completion]


@dataclass(frozen=True)
class Request:
    """One completion asked for: a prompt and how to sample it."""

    prompt: str
    sampling: Sampling


@dataclass(frozen=True)
class SeqDelta:
    """A piece of the text of request `index` of a `stream_many` call."""

    index: int
    delta: Delta


@dataclass(frozen=True)
class SeqDone:
    """The end of request `index` of a `stream_many` call: its whole text and what it cost."""

    index: int
    completion: Completion


ManyItem = Union[SeqDelta, SeqDone]


class Backend(Protocol):
    """A model that streams completions."""

    name: str

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str:
        """Render chat messages into a prompt that ends where the assistant speaks."""
        ...

    def stream(self, prompt: str, sampling: Sampling) -> Iterator[StreamItem]:
        """Stream a completion of `prompt`: Deltas, then one Completion."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` is for this model."""
        ...

    def choose(self, prompt: str, options: Sequence[str]) -> list[float]:
        """A grammar-restricted choice: the model's probability of each option as the text that
        follows `prompt`, renormalized over the options (they sum to 1)."""
        ...


class Batch(Protocol):
    """Sequences decoded together, continuously: a request may join at any step."""

    def add(self, request: Request) -> int:
        """Start a request (its prompt evaluated now, re-using what the cache holds); its index."""
        ...

    def step(self) -> list[ManyItem]:
        """Advance every live sequence by one token: their new text, and a SeqDone for each that ended."""
        ...

    @property
    def live(self) -> int:
        """How many sequences are still generating."""
        ...

    def close(self) -> None:
        """End the batch (sequences still live are abandoned)."""
        ...


@runtime_checkable
class ParallelBackend(Backend, Protocol):
    """A backend that decodes several sequences together."""

    def open_batch(self) -> Batch:
        """A batch that requests can join at any step."""
        ...


class InTurn:
    """A Batch for a backend without one: each request streamed whole, one after another."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.queue: list[tuple[int, Request]] = []
        self.added = 0

    def add(self, request: Request) -> int:
        """Queue a request; its index."""
        self.queue.append((self.added, request))
        self.added += 1
        return self.added - 1

    def step(self) -> list[ManyItem]:
        """Stream the oldest queued request to its end."""
        index, request = self.queue.pop(0)
        return [SeqDelta(index, item) if isinstance(item, Delta) else SeqDone(index, item)
                for item in self.backend.stream(request.prompt, request.sampling)]

    @property
    def live(self) -> int:
        """Requests not streamed yet."""
        return len(self.queue)

    def close(self) -> None:
        """Drop what is still queued."""
        self.queue.clear()


def open_batch(backend: Backend) -> Batch:
    """The backend's own batch, or one that streams requests in turn."""
    return backend.open_batch() if isinstance(backend, ParallelBackend) else InTurn(backend)


def stream_many(backend: Backend, requests: Sequence[Request]) -> Iterator[ManyItem]:
    """Stream several requests decoded together (in turn where the backend cannot)."""
    batch = open_batch(backend)
    try:
        for request in requests:
            batch.add(request)
        while batch.live:
            yield from batch.step()
    finally:
        batch.close()


def common_prefix(a: Sequence[Any], b: Sequence[Any]) -> int:
    """How many leading items (tokens) `a` and `b` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def sample_n(backend: Backend, prompt: str, samplings: Sequence[Sampling]) -> Iterator[ManyItem]:
    """n continuations of one prompt (the prompt evaluated once), each with its own sampling."""
    return stream_many(backend, [Request(prompt, s) for s in samplings])
