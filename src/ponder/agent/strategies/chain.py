"""The `chain` strategy (the default): one guided chain, reviewed in a fresh context; a REVISE verdict starts
a new round whose chain reads the critique, up to `rounds` rounds.

Rules that must hold:
- The best answer so far is always kept and returned, ranked by evidence only: an answer
  beats none; a checked answer (the last check passed, or the answer is the value a clean
  check computed) beats an unchecked one, which beats one whose check failed; an accepted
  review beats a revise; on a tie the earlier round stays. So a REVISE can never replace a
  verified answer with an unverified one.
- An ACCEPT (or review off, or a spent budget) ends the loop.
"""

from __future__ import annotations

from ponder.agent.critics.review import REVIEW_TOKENS, critique_text, review_answer
from ponder.agent.engine.scaffold import RunScaffold, Sample, StrategyBody
from ponder.agent.strategies._registry import register

_VERIFIED = {"pass": 2, "none": 1, "fail": 0}
_REVIEWED = {"accept": 1, None: 0, "revise": 0}


def evidence_rank(sample: Sample) -> tuple[int, int, int]:
    """How strongly the evidence supports a round's answer (higher is better)."""
    result = sample.result
    verdict = sample.review.verdict if sample.review else None
    checked = 2 if result.answer_source == "check" else _VERIFIED.get(result.verified, 1)
    return (1 if result.answer.normalized else 0, checked, _REVIEWED[verdict])


def better(best: Sample | None, new: Sample) -> Sample:
    """The round to keep: the new one only when its evidence is strictly stronger."""
    return new if best is None or evidence_rank(new) > evidence_rank(best) else best


@register("chain", "one guided chain, reviewed in a fresh context; REVISE thinks again (--rounds)")
def chain(run: RunScaffold) -> StrategyBody:
    """Answer with a reviewed guided chain, thinking again on REVISE."""
    config = run.config
    best: Sample | None = None
    critique = ""
    for index in range(1, max(1, config.rounds) + 1):
        if index > 1 and run.meter.stop_reason():
            break
        sample = yield from run.round(index, config.chain, critique)
        if config.review and run.meter.affords(REVIEW_TOKENS):
            sample.review = yield from review_answer(run.backend, run.catalogue, run.question, sample.result,
                                                     run_id=run.run_id, parent=sample.span, ids=run.ids)
        best = better(best, sample)
        if sample.review is None or sample.review.verdict == "accept":
            break
        critique = critique_text(run.catalogue, sample.result, sample.review, config.reflect)
    return best
