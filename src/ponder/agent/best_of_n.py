"""The `best-of-n` strategy: N sampled chains, each scored by the configured scorers combined
by a named rule; the highest score wins (the earliest on a tie).

Rules that must hold:
- Each sample is its own round with a CandidateScored event under it (the combined score
  and each scorer's part). The judge scorer asks the model in a fresh context, only when
  it is configured and its token fits the budget.
- The budget is checked before each sample; the best sample so far is always returned.
"""

from __future__ import annotations

from typing import Generator, Iterator

from ponder.agent.chain import ChainConfig
from ponder.agent.config import SearchConfig, search_config
from ponder.agent.judge import JUDGE_TOKENS, judge_answer
from ponder.agent.rounds import RunScaffold, Sample
from ponder.agent.scorers import score
from ponder.llm.backend import Backend
from ponder.thought_factors.catalogue import Catalogue
from ponder.trace.events import CandidateScored, Event


def run_best_of_n(backend: Backend, question: str, config: ChainConfig | SearchConfig, *, run_id: str, model: str,
                  catalogue: Catalogue | None = None) -> Iterator[Event]:
    """Answer with the best-scored of N sampled chains; yield every event."""
    scaffold = RunScaffold(backend, question, search_config(config), run_id=run_id, model=model,
                           strategy="best-of-n", catalogue=catalogue)
    return scaffold.run(_best(scaffold))


def _best(run: RunScaffold) -> Generator[Event, None, Sample | None]:
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
