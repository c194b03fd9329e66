"""Independent routes to an answer, each written in a fresh context from the question alone:
`reason` (the model's own chain of thought, in the prompt its makers recommend) and `program`
(a Python program the engine runs in the sandbox).

Rules that must hold:
- A route's prompt holds the question and nothing else the run has produced: never a
  hypothesis, another route's text or a check's output. Two routes that agree are evidence
  because neither could copy the other's misreading.
- Each route is one step, shown as its catalogue factor (`routes.reason_factor`,
  `routes.program_factor`), with the usual StepStarted, TextDeltas, tool events and
  StepFinished; its answer span is that step.
- reason: the answer is what the text states last (`\\boxed{}`, "the answer is", or the last
  number); a text with no number (but its steps' numbers) has no answer, unless the
  question has no number and asks for no quantity: then the text is its own answer, in
  words (a haiku), and the run stops there.
- program: the prompt asks for a number; to a question asking yes or no
  (`questions.asks_yes_or_no`), for True or False; to a question asking which of two numbers
  (`questions.asks_which_number`), for the number it chooses; to a question with a formula in x, y or z
  (`questions.has_algebra`), for a sympy program. The engine opens the code block; the model
  writes until the block closes; the code runs in the sandbox. The answer is the last line
  it printed, read as a chain's is (a number; a bare `True` or `False` is "yes" or "no";
  source "program"), or, to a question asking for the solutions of an equation, the values
  it printed one per line; code that fails has no answer and a failed check, code that
  prints nothing readable has no answer. A program that fails only for an import it forgot
  (`tools.imports`: `gcd` without `from math import gcd`) runs again with that line before
  it (`engine.programs`). A program that ran is no check of anything by itself: what counts
  is whether another route agrees.
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.agent.engine.calls import Work, complete, fresh_prompt, step_finished
from ponder.agent.engine.chain import ChainResult
from ponder.agent.engine.checks import printed_value
from ponder.agent.engine.ids import SpanIds
from ponder.agent.engine.programs import run_program
from ponder.agent.settings import ChainConfig
from ponder.llm.backend import Backend, Sampling
from ponder.thought_factors.catalogue import Catalogue, render
from ponder.thought_factors.prompt import neutralize
from ponder.tools.answers import TRUTH_VALUES, ExtractedAnswer, as_asked, chain_answer
from ponder.tools.questions import asks_which_number, asks_yes_or_no, has_algebra
from ponder.tools.sandbox import Sandbox
from ponder.trace.events import StepStarted, TextDelta

REASON, PROGRAM = "reason", "program"
ROUTES = (REASON, PROGRAM)
CODE_FENCE = "```"


@dataclass(frozen=True)
class RouteCall:
    """Where a route runs: the run, the question and the span its step hangs off."""

    backend: Backend
    catalogue: Catalogue
    question: str
    run_id: str
    parent: str
    ids: SpanIds


def in_words(answer: ExtractedAnswer) -> bool:
    """Whether an answer is words ("Paris"), not a value a program computes (a number, an expression, yes or no)."""
    return answer.kind == "text" and answer.normalized not in TRUTH_VALUES.values()


def program_prompt(question: str) -> str:
    """The program's prompt for a question: True or False to yes or no, the chosen number to which
    of two numbers, sympy to a formula, else a number."""
    if asks_yes_or_no(question):
        return "program_user_truth"
    if asks_which_number(question):
        return "program_user_choice"
    return "program_user_algebra" if has_algebra(question) else "program_user"


def route_prompt(backend: Backend, catalogue: Catalogue, route: str, question: str) -> str:
    """The fresh prompt of a route: the question, and nothing else."""
    prompts, safe = catalogue.prompts, neutralize(question)
    if route == REASON:
        return backend.chat_prompt([{"role": "user", "content": render(prompts["reason_user"], question=safe)}])
    user = render(prompts[program_prompt(question)], question=safe)
    return fresh_prompt(backend, prompts["program_system"], user, prompts["program_open"])


def run_route(at: RouteCall, route: str, config: ChainConfig) -> Work[ChainResult]:
    """Write one route's step (sampled per `config`), check it if it is a program; return its result."""
    routes = at.catalogue.routes
    factor = routes.reason_factor if route == REASON else routes.program_factor
    budget = routes.reason_tokens if route == REASON else routes.program_tokens
    span = at.ids.next()
    yield StepStarted(at.run_id, span=span, parent=at.parent, factor=factor, index=1)
    sampling = Sampling(temperature=config.temperature, seed=config.seed, max_tokens=min(budget, config.max_tokens),
                        stop=(CODE_FENCE,) if route == PROGRAM else (), purpose=route)
    prompt = route_prompt(at.backend, at.catalogue, route, at.question)
    opening = at.catalogue.prompts["program_open"] if route == PROGRAM else ""
    if opening:
        yield TextDelta(at.run_id, span=span, text=opening)
    completion = yield from complete(prompt, sampling, at.run_id, span)
    result = ChainResult(answer_span=span, completion_tokens=completion.completion_tokens, steps=[factor],
                         transcript=prompt + completion.text)
    outcome, observation = "none", None
    if route == REASON:
        result.answer = chain_answer(completion.text, at.question)
    else:
        outcome, observation = yield from _run_program(at, config, span, completion.text, result)
    yield step_finished(at.run_id, span, factor, opening + completion.text + (CODE_FENCE if route == PROGRAM else ""),
                        [completion], completion.mean_confidence, outcome=outcome, observation=observation)
    return result


def _run_program(at: RouteCall, config: ChainConfig, span: str, code: str, result: ChainResult) -> Work[tuple[str, str]]:
    """Run the program in the sandbox; its printed value is the route's answer."""
    ran = yield from run_program(Sandbox(config.sandbox, config.code_limits), code, at.run_id, span, at.ids)
    if not ran.ok:
        result.verified = "fail" if ran.status != "refused" else "none"
        reason = ran.stderr.strip().splitlines()[-1:] or [ran.status]
        result.evidence = f"The program did not run cleanly: {reason[0]}"
        return result.verified, result.evidence
    value = as_asked(printed_value(ran, at.question), at.question)
    if value.kind == "none":
        result.evidence = "The program printed no answer."
        return "none", result.evidence
    result.answer, result.answer_source = value, PROGRAM
    result.evidence = f"The program printed {value.normalized}."
    return "none", result.evidence
