"""The guided chain: restate -> decompose -> hypothesize -> verify -> (correct -> verify)* -> answer.

Rules that must hold:
- The engine writes every opening tag, closing tag and <observation>; the model writes only
  the inside of the open step and is stopped at its closing tag.
- The transcript is append-only: each step's prompt is the previous prompt plus what was
  generated plus what the engine wrote, so the backend re-uses its KV cache.
- The next factor comes from the catalogue's transition table: `on_fail` after a failed
  check (at most `max_corrections` times), else the first of `next`.
- A check that ran cleanly but still contradicts the model's answer when the chain must
  answer (corrections exhausted) wins: the answer is the computed value, marked
  source="check". A direct recomputation beats working it contradicts. A model that answers
  the value such a check computed agrees with it: its answer is verified "pass".
- A step's code runs through `engine.programs.run_program`, as a route's program does: a
  forgotten standard import is added and the code run again, each run its own tool call.
- The engine yields events and renders nothing; failures the model causes are recorded as
  step outcomes, never raised.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Generator

from ponder.agent.engine.calls import complete, step_finished
from ponder.agent.engine.checks import CheckReport, judge_check
from ponder.agent.engine.ids import SpanIds
from ponder.agent.engine.programs import run_program
from ponder.agent.settings import MIN_STEP_TOKENS, ChainConfig
from ponder.llm.backend import Backend, Completion, Sampling
from ponder.thought_factors.catalogue import Catalogue, Factor, render
from ponder.thought_factors.parsing import candidate_answer, check_claims, python_blocks
from ponder.thought_factors.prompt import chain_prompt, observation
from ponder.tools.answers import (
    NO_ANSWER,
    ExtractedAnswer,
    answer_from_step,
    as_asked,
    equivalent,
    extract_answer,
    stated_value,
)
from ponder.tools.sandbox import Result, Sandbox
from ponder.tools.sympy_check import run_checks
from ponder.trace.events import Event, StepFinished, StepStarted, TextDelta, ToolCall, ToolResult


@dataclass
class ChainResult:
    """What a chain ended with."""

    answer: ExtractedAnswer = NO_ANSWER
    answer_span: str = ""
    answer_source: str = "model"
    transcript: str = ""
    completion_tokens: int = 0
    verified: str = "none"
    evidence: str = ""
    steps: list[str] = field(default_factory=list)


EventStream = Generator[Event, None, ChainResult]


def think_chain(
    backend: Backend,
    catalogue: Catalogue,
    question: str,
    config: ChainConfig,
    *,
    run_id: str,
    parent: str,
    ids: SpanIds,
    critique: str = "",
) -> EventStream:
    """Run one guided chain, yielding its events; return its result. A critique (from a review
    of an earlier round) goes into the user message."""
    state = ChainState(chain_prompt(backend, catalogue, question, critique), config, catalogue, question)
    factor = catalogue.factor(catalogue.start)
    while True:
        factor = state.budgeted(factor)
        yield from think_step(backend, state, factor, run_id=run_id, parent=parent, ids=ids)
        if state.finished:
            return state.result
        factor = state.next_factor()


@dataclass(frozen=True)
class Step:
    """What one step left behind: its span and its StepFinished event (its check is on the state)."""

    span: str
    finished: StepFinished


def think_step(
    backend: Backend, state: "ChainState", factor: Factor, *, run_id: str, parent: str, ids: SpanIds
) -> Generator[Event, None, Step]:
    """Write one `factor` step onto `state` (mutating it), yielding its events; an answer step
    finishes the chain."""
    span = ids.next()
    yield StepStarted(run_id, span=span, parent=parent, factor=factor.name, index=len(state.result.steps) + 1)
    lead = state.lead(factor)
    completion = yield from _generate(backend, state, factor, lead, run_id, span)
    report = None
    if factor.tools:
        report = yield from _check(state, lead + completion.text, run_id, span, ids)
    finished = state.finish_step(factor, span, lead + completion.text, completion, report, run_id)
    yield finished
    if factor.name == state.catalogue.answer_name:
        state.answer(completion.text, span)
    return Step(span, finished)


class ChainState:
    """The transcript and bookkeeping of a chain in progress; `fork` branches it for search."""

    def __init__(self, prompt: str, config: ChainConfig, catalogue: Catalogue, question: str = "") -> None:
        self.config = config
        self.question = question
        self.catalogue = catalogue
        self.transcript = prompt
        self.corrections = 0
        self.candidate: ExtractedAnswer | None = None
        self.verdict = ""
        self.report: CheckReport | None = None
        self.last_factor: Factor | None = None
        self.last_failed = False
        self.sandbox = Sandbox(config.sandbox, config.code_limits)
        self.result = ChainResult()
        self.max_corrections = (
            catalogue.max_corrections if config.max_corrections is None else config.max_corrections
        )

    @property
    def finished(self) -> bool:
        """Whether the chain has written its answer step."""
        return bool(self.result.answer_span)

    def fork(self, config: ChainConfig | None = None) -> "ChainState":
        """An independent copy to extend along another branch (optionally with other settings)."""
        twin = copy.copy(self)
        twin.config = config or self.config
        twin.result = replace(self.result, steps=list(self.result.steps))
        return twin

    def remaining(self) -> int:
        """Completion tokens this chain may still write."""
        return self.config.max_tokens - self.result.completion_tokens

    def budget(self, factor: Factor) -> int:
        """Tokens this step may use: its own budget, keeping the answer's in reserve."""
        answer = self.catalogue.answer
        reserve = 0 if factor.name == answer.name else answer.max_tokens
        return min(factor.max_tokens, self.remaining() - reserve)

    def budgeted(self, factor: Factor) -> Factor:
        """Jump to the answer when too little budget is left for another step."""
        if factor.name != self.catalogue.answer_name and self.budget(factor) < MIN_STEP_TOKENS:
            return self.catalogue.answer
        return factor

    def lead(self, factor: Factor) -> str:
        """The factor's lead text, rendered with the last check's verdict."""
        return render(factor.lead, verdict=self.verdict) if factor.lead else ""

    def sampling(self, factor: Factor) -> Sampling:
        observed = self.catalogue.observation_tag
        stops = [f"<{observed}>", f"</{observed}>"]
        for f in self.catalogue.factors.values():
            stops += [f.close_tag] if f.name == factor.name else [f.open_tag, f.close_tag]
        seed = None if self.config.seed is None else self.config.seed + len(self.result.steps)
        return Sampling(
            temperature=self.config.temperature,
            seed=seed,
            max_tokens=max(1, self.budget(factor)),
            stop=tuple(stops),
            purpose=factor.name,
        )

    def finish_step(
        self, factor: Factor, span: str, text: str, completion: Completion, report: CheckReport | None, run_id: str
    ) -> StepFinished:
        """Append a written step (and its observation) to the transcript; return its event."""
        self.transcript += completion.text + factor.close_tag + "\n"
        if report is not None:
            self.transcript += observation(self.catalogue, report.observation)
            self.result.verified = report.outcome
            self.result.evidence = report.observation
            self.verdict = report.verdict
            self.report = report
        self.last_factor = factor
        self.last_failed = report is not None and report.outcome == "fail"
        self.result.completion_tokens += completion.completion_tokens
        self.result.steps.append(factor.name)
        self.result.transcript = self.transcript
        if factor.proposes:
            found = candidate_answer(text)
            self.candidate = stated_value(found) if found else extract_answer(text)
        return step_finished(run_id, span, factor.name, text, [completion], completion.mean_confidence,
                             outcome=report.outcome if report else "none",
                             observation=report.observation if report else None)

    def legal_next(self) -> list[Factor]:
        """The factors that may follow the last step: `on_fail` first after a failed check (while
        corrections are left), then `next` in order; the start factor before any step."""
        last = self.last_factor
        if last is None:
            return [self.catalogue.factor(self.catalogue.start)]
        names = [last.on_fail] if self.last_failed and last.on_fail and self.corrections < self.max_corrections else []
        names += [name for name in last.next if name not in names]
        return [self.catalogue.factor(name) for name in names]

    def next_factor(self) -> Factor:
        """The guided chain's choice: the first legal factor."""
        return self.enter(self.legal_next()[0])

    def enter(self, factor: Factor) -> Factor:
        """Note that `factor` comes next (a correction uses up one of the allowed corrections)."""
        if self.last_factor is not None and factor.name == self.last_factor.on_fail:
            self.corrections += 1
        return factor

    def answer(self, text: str, span: str) -> ChainResult:
        """The chain's answer: the model's, unless a check it could not reconcile computed another."""
        found = as_asked(answer_from_step(text), self.question) if text.strip() else NO_ANSWER
        source = "model"
        if found.kind == "none" and self.candidate is not None:
            found, source = self.candidate, "candidate"
        computed = self.report.computed if self.report else None
        if computed is not None and not equivalent(found, computed):
            found, source = computed, "check"
        elif computed is not None:  # the model answers what the clean check computed: they agree
            self.result.verified = "pass"
        agreed = self.report.agreed if self.report else None
        if agreed is not None and not equivalent(found, agreed):
            self.result.verified = "none"  # the check passed another value than the one answered
        self.result.answer = found
        self.result.answer_source = source
        self.result.answer_span = span
        return self.result


def _generate(backend: Backend, state: ChainState, factor: Factor, lead: str, run_id: str, span: str):  # type: ignore[no-untyped-def]
    """Write the opening tag and lead, stream the step's text from the model; return its Completion."""
    state.transcript += factor.open_tag + "\n" + lead
    if lead:
        yield TextDelta(run_id, span=span, text=lead)
    return (yield from complete(state.transcript, state.sampling(factor), run_id, span))


def _check(state: ChainState, text: str, run_id: str, span: str, ids: SpanIds):  # type: ignore[no-untyped-def]
    """Run the step's code blocks and CHECK claims, yielding tool events; return the verdict."""
    runs: list[Result] = []
    for code in python_blocks(text):
        runs.append((yield from run_program(state.sandbox, code, run_id, span, ids)))
    claims = check_claims(text)
    spans = [ids.next() for _ in claims]
    for tool_span, claim in zip(spans, claims):
        yield ToolCall(run_id, span=tool_span, parent=span, tool="sympy", input=claim)
    checks = run_checks(claims, state.sandbox) if claims else []
    for tool_span, check in zip(spans, checks):
        yield ToolResult(run_id, span=tool_span, status=check.status, output=check.detail,
                         seconds=check.seconds, isolation=check.isolation)
    return judge_check(runs, checks, state.candidate)
