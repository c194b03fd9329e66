"""The model's own yes/no judgement of an answer, in a fresh context (a scorer's input).

Rules that must hold:
- One grammar-restricted token, "yes" or "no". Its probability is read from the first
  token's confidence (the top-token probability at that position): P(yes) is that confidence
  after "yes" and one minus it after "no". This approximates the logits of "yes" against
  "no"; it never raises on a backend without confidences (then 0.5).
"""

from __future__ import annotations

from typing import Generator

from ponder.agent.engine.calls import complete, first_confidence, fresh_prompt, step_finished
from ponder.agent.engine.chain import ChainResult
from ponder.agent.engine.ids import SpanIds
from ponder.llm.backend import Backend, Sampling
from ponder.thought_factors.catalogue import Catalogue, render
from ponder.thought_factors.prompt import neutralize
from ponder.trace.events import Event, StepStarted

JUDGE_GRAMMAR = 'root ::= "yes" | "no"'
JUDGE_TOKENS = 2
JUDGE = "judge"  # the step's name in the trace, and the purpose of its call


def judge_answer(backend: Backend, catalogue: Catalogue, question: str, result: ChainResult, *, run_id: str,
                 parent: str, ids: SpanIds) -> Generator[Event, None, float]:
    """Ask the model whether the answer is correct; return P(yes)."""
    span = ids.next()
    yield StepStarted(run_id, span=span, parent=parent, factor=JUDGE, index=len(result.steps) + 1)
    user = render(catalogue.prompts["judge_user"], question=neutralize(question),
                  answer=neutralize(result.answer.text or "(no answer)"))
    prompt = fresh_prompt(backend, catalogue.prompts["judge_system"], user, catalogue.prompts["judge_open"])
    sampling = Sampling(max_tokens=JUDGE_TOKENS, grammar=JUDGE_GRAMMAR, purpose=JUDGE)
    done = yield from complete(prompt, sampling, run_id, span)
    yield step_finished(run_id, span, JUDGE, done.text, [done], first_confidence(done))
    return yes_probability(done.text, first_confidence(done))


def yes_probability(text: str, confidence: float | None) -> float:
    """P(yes) from the chosen word and its confidence."""
    word = text.strip().lower()
    if confidence is None or not word.startswith(("yes", "no")):
        return 0.5
    return confidence if word.startswith("yes") else 1.0 - confidence
