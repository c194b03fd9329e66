"""The frame every strategy runs in: a run's scaffold (RunStarted ... Answer, RunFinished) and
one chain as a round of the run's tree.

Rules that must hold:
- Every event a strategy yields passes through `RunScaffold.run`, which remembers it (for
  usage) and feeds the budget meter before the strategy resumes; the model calls it asks
  for are answered there, one at a time, or by `together`, which decodes the calls of
  several rounds (or search steps) at once and keeps each one's events under its span.
- Each chain is its own round: RoundStarted (parent "run"), the chain's steps under it,
  RoundFinished with its answer and evidence. Rounds never share a transcript.
- The final Answer event names the chosen round's answer step; usage comes from the events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterator

from ponder.agent.engine.budget import Meter
from ponder.agent.engine.calls import ModelCall, Work, drive, drive_together
from ponder.agent.engine.chain import ChainResult, think_chain
from ponder.agent.engine.ids import SpanIds
from ponder.agent.settings import MIN_CHAIN_TOKENS, ChainConfig, RunConfig
from ponder.llm.backend import Backend
from ponder.thought_factors.catalogue import Catalogue, load_catalogue
from ponder.trace.events import Answer, Event, RoundFinished, RoundStarted, RunFinished, RunStarted
from ponder.trace.usage import summarize

NO_ANSWER_ERROR = "the model gave no answer"  # a run that ends without one ends as an error

if TYPE_CHECKING:
    from ponder.agent.critics.review import Review

StrategyBody = Work["Sample | None"]


@dataclass
class Sample:
    """One finished chain of a run: its round, result and events, and what judged it."""

    index: int
    span: str
    result: ChainResult
    events: list[Event] = field(default_factory=list)
    review: "Review | None" = None
    judgement: float | None = None
    step_rewards: tuple[float, ...] | None = None  # a process reward model's P(right) of each step
    route: str = "chain"  # how it was reached: a guided chain, or an independent route


class RunScaffold:
    """The frame every strategy runs in: ids, catalogue, meter and the events seen so far."""

    def __init__(self, backend: Backend, question: str, config: RunConfig, *, run_id: str, model: str,
                 strategy: str, catalogue: Catalogue | None = None) -> None:
        self.backend = backend
        self.question = question
        self.config = config
        self.run_id = run_id
        self.model = model
        self.strategy = strategy
        self.catalogue = catalogue or load_catalogue()
        self.ids = SpanIds()
        self.meter = Meter(config.budget)
        self.seen: list[Event] = []

    def run(self, body: StrategyBody) -> Iterator[Event]:
        """Open the run, pass the strategy's events through (answering its model calls), then
        give the chosen answer."""
        yield self._keep(RunStarted(self.run_id, question=self.question, model=self.model,
                                    strategy=self.strategy, params=_params(self.config)))
        driven = drive(self.backend, body)
        while True:
            try:
                event = next(driven)
            except StopIteration as stop:
                chosen = stop.value
                break
            yield self._keep(event)
        if chosen is not None:
            answer = chosen.result.answer
            yield self._keep(Answer(self.run_id, span=chosen.result.answer_span, text=answer.text,
                                    normalized=answer.normalized, kind=answer.kind, source=chosen.result.answer_source))
        normalized = chosen.result.answer.normalized if chosen else ""
        if not normalized:  # as `ask` exits 1 and `batch` records it: no answer is no success
            yield RunFinished(self.run_id, status="error", answer=None, usage=summarize(self.seen),
                              error=NO_ANSWER_ERROR)
            return
        yield RunFinished(self.run_id, status="ok", answer=normalized, usage=summarize(self.seen))

    def wave_size(self, done: int, total: int) -> int:
        """How many of the chains `done`..`total` start now, side by side: at most `parallel`,
        within the samples budget, each with at least MIN_CHAIN_TOKENS of the tokens left; 0 once
        the budget is spent (the first wave always runs: seconds are checked between waves)."""
        if done > 0 and self.meter.stop_reason():
            return 0
        size = min(max(1, self.config.parallel), total - done)
        left = self.meter.chains_left()
        if left is not None:
            size = min(size, max(left, 1 if done == 0 else 0))
        tokens = self.meter.tokens_left()
        if tokens is not None:  # a wave splits the tokens left: none starts below a chain's minimum
            size = min(size, max(1, tokens // MIN_CHAIN_TOKENS))
        return size

    def together(self, works: list[Work[Any]]) -> Generator[Event, None, list[Any]]:
        """Run several rounds (or steps) side by side, their model calls decoded together."""
        return (yield from drive_together(self.backend, works))

    def round(self, index: int, config: ChainConfig, critique: str = "", share: int = 1) -> Work[Sample]:
        """Run one guided chain as round `index` of the run; return it as a Sample. `share`: how
        many rounds run side by side, splitting the tokens the budget has left."""
        chain_config = self.meter.chain_config(config, share)

        def chain(span: str) -> Work[ChainResult]:
            return think_chain(self.backend, self.catalogue, self.question, chain_config, run_id=self.run_id,
                               parent=span, ids=self.ids, critique=critique)

        return self.framed(index, chain)

    def framed(self, index: int, body: Callable[[str], Work[ChainResult]], route: str = "chain") -> Work[Sample]:
        """Run `body` (given its round's span) as round `index`: RoundStarted, its events,
        RoundFinished with its answer and evidence; return it as a Sample."""
        span = self.ids.next()
        yield RoundStarted(self.run_id, span=span, parent="run", index=index)
        events: list[Event] = []
        work = body(span)
        reply = None
        while True:
            try:
                item = work.send(reply)  # type: ignore[arg-type]
            except StopIteration as stop:
                result: ChainResult = stop.value
                break
            reply = None
            if isinstance(item, ModelCall):
                reply = yield item
                continue
            events.append(item)
            yield item
        answer = result.answer
        yield RoundFinished(self.run_id, span=span, answer=answer.text, normalized=answer.normalized,
                            verified=result.verified, source=result.answer_source,
                            completion_tokens=result.completion_tokens)
        return Sample(index, span, result, events, route=route)

    def _keep(self, event: Event) -> Event:
        self.seen.append(event)
        self.meter.observe(event)
        return event


def _params(config: RunConfig) -> dict[str, Any]:
    params = asdict(config)
    params["scorers"] = list(config.scorers)
    return params
