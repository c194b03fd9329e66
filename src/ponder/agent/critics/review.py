"""The review step: after a chain answers, a fresh context sees the question, the answer and
the verifier evidence, and returns ACCEPT or REVISE with one line of reasons.

Rules that must hold:
- The review never sees the chain's transcript, only the question, the answer and the last
  verify step's outcome and observation (when the answer is the value a clean check
  computed, the evidence says so instead of quoting the check against the old candidate).
- The verdict word is grammar-restricted; text a backend returns that still does not start
  with a verdict word counts as "accept" (no evidence to think again), with reasons saying so.
- The reasons are one line: stopped at a newline, at most REASON_TOKENS tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generator

from ponder.agent.engine.calls import complete, first_confidence, fresh_prompt, step_finished
from ponder.agent.engine.chain import ChainResult
from ponder.agent.engine.ids import SpanIds
from ponder.llm.backend import Backend, Sampling
from ponder.thought_factors.catalogue import Catalogue, render
from ponder.thought_factors.prompt import neutralize
from ponder.trace.events import Event, ReviewVerdict, StepStarted, TextDelta

VERDICT_GRAMMAR = 'root ::= "ACCEPT" | "REVISE"'
VERDICT_TOKENS = 4
REASON_TOKENS = 48
REVIEW_TOKENS = VERDICT_TOKENS + REASON_TOKENS
_VERDICT = re.compile(r"\s*(ACCEPT|REVISE)\b", re.I)
REVIEW = "review"  # the step's name in the trace, and the purpose of its verdict call
REVIEW_REASONS = "review-reasons"  # the purpose of its reasons call


@dataclass
class Review:
    """A review's verdict ("accept" or "revise") and its one line of reasons."""

    verdict: str
    reasons: str


def review_prompt(backend: Backend, catalogue: Catalogue, question: str, result: ChainResult) -> str:
    """The review's fresh prompt, ending where the engine opens the verdict."""
    answer = neutralize(result.answer.text or "(no answer)")
    outcome, evidence = result.verified, neutralize(result.evidence or "(nothing was checked)")
    if result.answer_source == "check":
        outcome, evidence = "pass", render(catalogue.prompts["review_computed"], answer=answer)
    user = render(catalogue.prompts["review_user"], question=neutralize(question), answer=answer, outcome=outcome,
                  evidence=evidence)
    return fresh_prompt(backend, catalogue.prompts["review_system"], user, catalogue.prompts["review_open"])


def parse_verdict(text: str) -> str | None:
    """"accept" or "revise" from the verdict word, or None when there is none."""
    found = _VERDICT.match(text)
    return found.group(1).lower() if found else None


def review_answer(backend: Backend, catalogue: Catalogue, question: str, result: ChainResult, *, run_id: str,
                  parent: str, ids: SpanIds) -> Generator[Event, None, Review]:
    """Review a chain's answer in a fresh context, yielding its events; return the verdict."""
    span = ids.next()
    yield StepStarted(run_id, span=span, parent=parent, factor=REVIEW, index=len(result.steps) + 1)
    opening, lead = catalogue.prompts["review_open"], catalogue.prompts["review_reasons"]
    prompt = review_prompt(backend, catalogue, question, result)
    yield TextDelta(run_id, span=span, text=opening)
    word = yield from complete(prompt, Sampling(max_tokens=VERDICT_TOKENS, grammar=VERDICT_GRAMMAR,
                                                         purpose=REVIEW), run_id, span)
    prompt += word.text + lead
    yield TextDelta(run_id, span=span, text=lead)
    line = yield from complete(prompt, Sampling(max_tokens=REASON_TOKENS, stop=("\n",), purpose=REVIEW_REASONS),
                               run_id, span)
    verdict = parse_verdict(word.text)
    reasons = " ".join(line.text.split()) if verdict else "(the review gave no readable verdict)"
    text = opening + word.text + lead + line.text
    yield step_finished(run_id, span, REVIEW, text, [word, line], first_confidence(word))
    review = Review(verdict or "accept", reasons)
    yield ReviewVerdict(run_id, span=span, parent=parent, verdict=review.verdict, reasons=review.reasons,
                        answer=result.answer.normalized)
    return review


def critique_text(catalogue: Catalogue, result: ChainResult, review: Review, reflect: bool) -> str:
    """What the next round's chain reads about the rejected answer."""
    text = render(catalogue.prompts["critique"], answer=result.answer.text or "(no answer)", reasons=review.reasons)
    return text + ("\n" + catalogue.prompts["reflect"] if reflect else "")
