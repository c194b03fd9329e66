"""The model's own yes/no judgement of an answer, in a fresh context (a scorer's input).

Rules that must hold:
- One grammar-restricted token, "yes" or "no". Its probability is read from the first
  token's confidence (the top-token probability at that position): P(yes) is that confidence
  after "yes" and one minus it after "no". This approximates the logits of "yes" against
  "no"; it never raises on a backend without confidences (then 0.5).
"""

from __future__ import annotations

from typing import Generator

from ponder.agent.fresh import complete, first_confidence
from ponder.agent.ids import SpanIds
from ponder.agent.chain import ChainResult
from ponder.llm.backend import Backend, Sampling
from ponder.thought_factors.catalogue import Catalogue, render
from ponder.thought_factors.prompt import neutralize
from ponder.trace.events import Event, StepFinished, StepStarted

JUDGE_GRAMMAR = 'root ::= "yes" | "no"'
JUDGE_TOKENS = 2


def judge_answer(backend: Backend, catalogue: Catalogue, question: str, result: ChainResult, *, run_id: str,
                 parent: str, ids: SpanIds) -> Generator[Event, None, float]:
    """Ask the model whether the answer is correct; return P(yes)."""
    span = ids.next()
    yield StepStarted(run_id, span=span, parent=parent, factor="judge", index=len(result.steps) + 1)
    user = render(catalogue.prompts["judge_user"], question=neutralize(question),
                  answer=neutralize(result.answer.text or "(no answer)"))
    messages = [{"role": "system", "content": catalogue.prompts["judge_system"]}, {"role": "user", "content": user}]
    prompt = backend.chat_prompt(messages) + catalogue.prompts["judge_open"]
    done = yield from complete(backend, prompt, Sampling(max_tokens=JUDGE_TOKENS, grammar=JUDGE_GRAMMAR), run_id, span)
    p_yes = yes_probability(done.text, first_confidence(done))
    yield StepFinished(run_id, span=span, factor="judge", text=done.text.strip(), stop_reason=done.stop_reason,
                       completion_tokens=done.completion_tokens, prompt_tokens=done.prompt_tokens,
                       prompt_tokens_evaluated=done.prompt_tokens_evaluated, seconds=round(done.seconds, 3),
                       prompt_seconds=round(done.prompt_seconds, 3), confidence=_round(first_confidence(done)))
    return p_yes


def yes_probability(text: str, confidence: float | None) -> float:
    """P(yes) from the chosen word and its confidence."""
    word = text.strip().lower()
    if confidence is None or not word.startswith(("yes", "no")):
        return 0.5
    return confidence if word.startswith("yes") else 1.0 - confidence


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
