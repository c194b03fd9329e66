"""The `best-of-n` strategy: N sampled chains, each scored by the configured scorers combined
by a named rule; the highest score wins (the earliest on a tie).

Rules that must hold:
- Each sample is its own round with a CandidateScored event under it (the combined score
  and each scorer's part). The judge scorer asks the model in a fresh context, only when
  it is configured and its token fits the budget.
- The budget is checked before each sample; the best sample so far is always returned.
"""

from __future__ import annotations

from ponder.agent.critics.judge import JUDGE_TOKENS, judge_answer
from ponder.agent.critics.scorers import score
from ponder.agent.engine.scaffold import RunScaffold, Sample, StrategyBody
from ponder.agent.strategies._registry import register
from ponder.trace.events import CandidateScored


@register("best-of-n", "the highest-scored of sampled chains (--scorer, --rule)")
def best_of_n(run: RunScaffold) -> StrategyBody:
    """Answer with the best-scored of N sampled chains."""
    config = run.config
    best: tuple[float, Sample] | None = None
    for i in range(config.samples):
        if i > 0 and run.meter.stop_reason():
            break
        sample = yield from run.round(i + 1, config.sample_chain(i))
        if "judge" in config.scorers and run.meter.affords(JUDGE_TOKENS):
            sample.judgement = yield from judge_answer(run.backend, run.catalogue, run.question, sample.result,
                                                       run_id=run.run_id, parent=sample.span, ids=run.ids)
        total, parts = score(sample, config.scorers, config.rule)
        yield CandidateScored(run.run_id, span=run.ids.next(), parent=sample.span,
                              answer=sample.result.answer.normalized, score=total, scores=parts, rule=config.rule)
        if best is None or total > best[0]:
            best = (total, sample)
    return best[1] if best else None
