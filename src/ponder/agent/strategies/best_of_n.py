"""The `best-of-n` strategy: N sampled chains, each scored by the configured scorers combined
by a named rule; the highest score wins (the earliest on a tie).

Rules that must hold:
- Each sample is its own round with a CandidateScored event under it (the combined score
  and each scorer's part). The judge scorer asks the model in a fresh context, only when
  it is configured and its token fits the budget; the prm scorer's reward model reads the
  sample's steps (no completion tokens).
- Chains (each with its judgement) are sampled in waves of `parallel`, decoded side by side;
  the budget is checked before each wave; the best sample so far is always returned, and an
  answer beats none whatever the scores (a failed check scores 0, as no answer does).
"""

from __future__ import annotations

from ponder.agent.critics.judge import JUDGE_TOKENS, judge_answer
from ponder.agent.critics.process_reward import reward_steps
from ponder.agent.critics.scorers import score
from ponder.agent.engine.calls import Work
from ponder.agent.engine.scaffold import RunScaffold, Sample, StrategyBody
from ponder.agent.strategies._registry import register
from ponder.trace.events import CandidateScored


@register("best-of-n", "the highest-scored of sampled chains (--scorer, --rule)", parallel=True, scored=True)
def best_of_n(run: RunScaffold) -> StrategyBody:
    """Answer with the best-scored of N sampled chains."""
    config = run.config
    best: tuple[tuple[bool, float], Sample] | None = None
    done = 0
    while done < config.samples:
        size = run.wave_size(done, config.samples)
        if not size:
            break
        for sample in (yield from run.together([_judged(run, done + k, size) for k in range(size)])):
            total, parts = score(reward_steps(run, sample), config.scorers, config.rule)
            yield CandidateScored(run.run_id, span=run.ids.next(), parent=sample.span,
                                  answer=sample.result.answer.normalized, score=total, scores=parts, rule=config.rule)
            rank = (bool(sample.result.answer.normalized), total)
            if best is None or rank > best[0]:
                best = (rank, sample)
        done += size
    return best[1] if best else None


def _judged(run: RunScaffold, index: int, share: int) -> Work[Sample]:
    """Sample chain `index` (0-based); with the judge scorer, ask the model to judge it."""
    config = run.config
    sample = yield from run.round(index + 1, config.sample_chain(index), share=share)
    if "judge" in config.scorers and run.meter.affords(JUDGE_TOKENS * share):
        sample.judgement = yield from judge_answer(run.backend, run.catalogue, run.question, sample.result,
                                                   run_id=run.run_id, parent=sample.span, ids=run.ids)
    return sample
