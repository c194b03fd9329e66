"""The `cascade` strategy: compute follows evidence. A greedy chain of thought and a greedy
program, each written independently from the question alone (`engine.routes`), decoded side
by side; when they agree, that is the answer. When they disagree, or one has none, more of
both routes are sampled in waves and a weighted vote decides, stopping as soon as it is
decided or the budget is spent. An answer in words ("Paris") is the greedy chain's own: no
program can compute it, and samples would only vote over free text.

Rules that must hold:
- The first wave is the two greedy routes; their agreement ends the run at once, and so does
  a greedy chain that answers in words (`routes.in_words`; stopped "words"): the chain's
  answer wins, as the earliest route of a tie. To a question asking for an amount for each
  (`questions.asks_for_each`), a greedy chain that answers several amounts and a greedy
  program that printed one of them end it too (stopped "covered"): the chain's amounts win.
- Later samples use the sample temperature and their own seeds; routes alternate (reason,
  program, reason, ...), so every wave of two or more holds both.
- Answers are the same when `equivalent` says so, two different expressions when sympy
  says so in the sandbox (a chain's 3x^2 + 2 and a program's printed 3*x**2 + 2 agree).
- A vote weighs ROUTE_WEIGHTS[route]; a group whose answer both routes reached gets
  AGREEMENT_BONUS once. A route with no answer casts no vote. To a question asking for an
  amount for each, a group of several amounts also weighs the groups of one amount it holds
  (they are part of its answer), with the bonus when together they hold both routes.
- Sampling stops once the leader cannot be overtaken by the routes left (each at the
  largest weight, plus the bonus for a runner-up that lacks a route), after `samples` routes
  (at least the first two), or when the budget is spent. Nothing looks at a reference answer.
- Each route is a round (RoundStarted ... RoundFinished) with a CandidateScored under it;
  one VoteTally under the run closes the vote; the answer is the winning group's heaviest
  route; on a tie, one that answers with an integer or a fraction (`answers.exact_number`:
  never a rounded decimal or a power of ten), then a chain of thought.
- Two groups that tie go to the earliest route (the greedy chain), as GSM8K measured; to a
  question asking which of two numbers (`questions.asks_which_number`) a group a program
  reached goes first: comparing two numbers is exact in code, and where chains and programs
  tied there, the programs were right every time (README).
"""

from __future__ import annotations

from ponder.agent.engine.calls import Work
from ponder.agent.engine.chain import ChainResult
from ponder.agent.engine.routes import PROGRAM, REASON, RouteCall, in_words, run_route
from ponder.agent.engine.scaffold import RunScaffold, Sample, StrategyBody
from ponder.agent.settings import ChainConfig
from ponder.agent.strategies._registry import register
from ponder.agent.strategies._tally import Group, Same, same_answers, tally
from ponder.tools.answers import ExtractedAnswer, equivalent, exact_number, normalize_answer
from ponder.tools.questions import asks_for_each, asks_which_number
from ponder.tools.sandbox import Sandbox
from ponder.trace.events import CandidateScored, VoteTally

ROUTE_WEIGHTS = {REASON: 1.0, PROGRAM: 1.0}
AGREEMENT_BONUS = 1.0
FIRST_WAVE = 2


@register("cascade", "a chain of thought and an independent program; more samples only when they disagree",
          parallel=True)
def cascade(run: RunScaffold) -> StrategyBody:
    """Answer from two independent routes, sampling more of both only while they disagree."""
    config = run.config
    total = max(FIRST_WAVE, config.samples)
    same = same_answers(run.question, Sandbox(config.chain.sandbox, config.chain.code_limits))
    first = PROGRAM if asks_which_number(run.question) else None
    each = asks_for_each(run.question)
    greedy = [_route_round(run, 0, config.chain, share=FIRST_WAVE), _route_round(run, 1, config.chain, share=FIRST_WAVE)]
    samples: list[Sample] = yield from run.together(greedy)
    yield from _score(run, samples)
    stopped = ("agreed" if _agree(samples, same) else "covered" if covered(samples, run.question)
               else "words" if in_words(samples[0].result.answer) else "samples")
    while stopped == "samples" and len(samples) < total:
        if decided(ranked(samples, same, each=each), total - len(samples), each):
            stopped = "decided"
            break
        size = run.wave_size(len(samples), total)
        if not size:
            stopped = "budget"
            break
        wave = [_route_round(run, n, config.sample_chain(n), share=size) for n in range(len(samples), len(samples) + size)]
        fresh: list[Sample] = yield from run.together(wave)
        yield from _score(run, fresh)
        samples += fresh
    groups = ranked(samples, same, first, each)
    yield VoteTally(run.run_id, span=run.ids.next(), parent="run", groups=[_record(g, w) for g, w in groups],
                    winner=_representative(groups[0][0]).result.answer.normalized if groups else "",
                    samples=len(samples), stopped=stopped)
    return _representative(groups[0][0]) if groups else samples[0]


def route_of(index: int) -> str:
    """Route n of a run: a chain of thought first, then a program, alternating."""
    return REASON if index % 2 == 0 else PROGRAM


def _route_round(run: RunScaffold, index: int, config: ChainConfig, share: int) -> Work[Sample]:
    route = route_of(index)
    chain = run.meter.chain_config(config, share)

    def body(span: str) -> Work[ChainResult]:
        at = RouteCall(run.backend, run.catalogue, run.question, run.run_id, span, run.ids)
        return run_route(at, route, chain)

    return run.framed(index + 1, body, route=route)


def weight(sample: Sample) -> float:
    """What a route's vote weighs (0 without an answer)."""
    return ROUTE_WEIGHTS[sample.route] if sample.result.answer.normalized else 0.0


def ranked(samples: list[Sample], same: Same, first: str | None = None,
           each: bool = False) -> list[tuple[Group, float]]:
    """Groups of answers the same by `same` with their total weight (the agreement bonus
    included; to a question asking for an amount for each (`each`), a group of several amounts
    also weighs the single amounts it holds), heaviest first, then most votes, then one that
    route `first` reached (if given), then earliest."""
    groups = tally([(s, weight(s)) for s in samples], same)
    scored = [(g, g.weight + (AGREEMENT_BONUS if _both_routes(g) else 0.0) + (_parts(g, groups) if each else 0.0))
              for g in groups]

    def lacks_first(group: Group) -> bool:
        return first is not None and all(s.route != first for s, _ in group.members)

    return sorted(scored, key=lambda gw: (-gw[1], -len(gw[0].members), lacks_first(gw[0]), gw[0].members[0][0].index))


def decided(groups: list[tuple[Group, float]], left: int, each: bool = False) -> bool:
    """Whether the leader wins whatever the `left` routes still to come say: no other group,
    nor a new answer, could pass it even with every route left and the bonus it lacks (asked
    for each, a new group of several amounts might hold every group of one amount so far)."""
    if not groups:
        return False
    best = max(ROUTE_WEIGHTS.values())
    reach = [total + (0.0 if _both_routes(group) else AGREEMENT_BONUS) for group, total in groups[1:]]
    if each:
        reach.append(sum(group.weight for group, _ in groups) + AGREEMENT_BONUS)
    else:
        reach.append(AGREEMENT_BONUS if left >= 2 else 0.0)  # an answer nobody has given yet
    return groups[0][1] > max(reach) + left * best


def _agree(samples: list[Sample], same: Same) -> bool:
    groups = ranked(samples, same)
    return len(groups) == 1 and _both_routes(groups[0][0])


def covered(samples: list[Sample], question: str) -> bool:
    """Whether, to a question asking for an amount for each, the greedy chain answers several
    amounts and the greedy program printed one of them (Tom's 40 and Ann's 60; Ann's 60)."""
    chain, program = (sample.result.answer for sample in samples[:FIRST_WAVE])
    if not asks_for_each(question) or program.kind != "number":
        return False
    return any(equivalent(amount, program) for amount in _amounts(chain))


def _amounts(answer: ExtractedAnswer) -> list[ExtractedAnswer]:
    """The members of an answer of several amounts ("40, 60"); none for any other answer."""
    return [normalize_answer(member) for member in answer.normalized.split(",")] if answer.kind == "set" else []


def _parts(group: Group, groups: list[Group]) -> float:
    """What the groups of one amount that a group of several holds add to it (Ann's 60 to Tom's
    40 and Ann's 60), with the agreement bonus when together they hold both routes."""
    amounts = _amounts(group.members[0][0].result.answer)
    if not amounts:
        return 0.0
    parts = [g for g in groups if g is not group and g.members[0][0].result.answer.kind == "number"
             and any(equivalent(amount, g.members[0][0].result.answer) for amount in amounts)]
    routes = {s.route for g in (group, *parts) for s, _ in g.members}
    bonus = AGREEMENT_BONUS if not _both_routes(group) and routes >= {REASON, PROGRAM} else 0.0
    return sum(part.weight for part in parts) + bonus


def _both_routes(group: Group) -> bool:
    return {s.route for s, _ in group.members} >= {REASON, PROGRAM}


def _representative(group: Group) -> Sample:
    """The heaviest member; on a tie, one whose answer is an integer or a fraction (a program's
    2 ** 64 over a chain's 1.8446744073709551 \\times 10^{19}), then a chain of thought, then the earliest."""
    return max(group.members, key=lambda m: (m[1], exact_number(m[0].result.answer), m[0].route == REASON,
                                             -m[0].index))[0]


def _score(run: RunScaffold, samples: list[Sample]) -> Work[None]:
    for sample in samples:
        yield CandidateScored(run.run_id, span=run.ids.next(), parent=sample.span,
                              answer=sample.result.answer.normalized, score=weight(sample),
                              scores={sample.route: weight(sample)}, rule=sample.route)


def _record(group: Group, total: float) -> dict[str, object]:
    return {"answer": _representative(group).result.answer.normalized, "votes": len(group.members),
            "weight": round(total, 4), "rounds": [s.index for s, _ in group.members],
            "routes": sorted({s.route for s, _ in group.members})}
