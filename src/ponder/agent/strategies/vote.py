"""The `vote` strategy (self-consistency): N sampled chains, answers grouped by equivalence
(`tools.answers.equivalent`), the heaviest group wins.

Rules that must hold:
- Each sample is its own round (RoundStarted, parent "run") with a CandidateScored event
  (its vote weight) under it; one VoteTally under the run closes the vote.
- A vote's weight comes from evidence only: with "verifier" weighting a chain whose last
  check passed counts 1.5, nothing checked 1, a failed check 0.5; "verifier+confidence"
  multiplies that by the chain's mean token confidence; "count" gives every vote 1.
- Chains are sampled in waves, decoded side by side: the first holds the fewest chains that
  could decide the vote (a majority of `samples`), later ones up to `parallel`; between
  waves sampling stops early when the leader cannot be overtaken by the samples left (each
  at the weighting's maximum weight), or when the budget is spent. So waves never sample
  more chains than one-at-a-time voting would when the first chains agree.
- The winner's representative is its heaviest sample (the earliest on a tie).
"""

from __future__ import annotations

from typing import Callable

from ponder.agent.critics.scorers import confidence_score, verifier_score
from ponder.agent.engine.scaffold import RunScaffold, Sample, StrategyBody
from ponder.agent.settings import Weighting
from ponder.agent.strategies._registry import register
from ponder.agent.strategies._tally import Group, decided, same_answers, tally
from ponder.trace.events import CandidateScored, VoteTally

Weigh = Callable[[Sample], float]

WEIGHTINGS: dict[Weighting, tuple[Weigh, float]] = {
    "count": (lambda s: 1.0, 1.0),
    "verifier": (lambda s: 0.5 + verifier_score(s), 1.5),
    "verifier+confidence": (lambda s: (0.5 + verifier_score(s)) * confidence_score(s), 1.5),
}


@register("vote", "majority of sampled chains (self-consistency), weighted by their checks", parallel=True)
def vote(run: RunScaffold) -> StrategyBody:
    """Answer by a (weighted) majority vote over sampled chains."""
    config = run.config
    weigh, max_weight = WEIGHTINGS[config.weighting]
    same = same_answers(run.question)
    votes: list[tuple[Sample, float]] = []
    stopped = "samples"
    while len(votes) < config.samples:
        size = run.wave_size(len(votes), config.samples)
        if not votes:
            size = min(size, config.samples // 2 + 1)  # the fewest that could decide
        if not size:
            stopped = "budget"
            break
        wave = [run.round(len(votes) + k + 1, config.sample_chain(len(votes) + k), share=size) for k in range(size)]
        for sample in (yield from run.together(wave)):
            weight = round(weigh(sample), 4)
            votes.append((sample, weight))
            yield CandidateScored(run.run_id, span=run.ids.next(), parent=sample.span,
                                  answer=sample.result.answer.normalized, score=weight,
                                  scores={"verifier": verifier_score(sample),
                                          "confidence": round(confidence_score(sample), 4)},
                                  rule=config.weighting)
        left = config.samples - len(votes)
        if left > 0 and decided(tally(votes, same), left, max_weight):
            stopped = "decided"
            break
    groups = tally(votes, same)
    chosen = groups[0].representative if groups else (votes[0][0] if votes else None)
    yield VoteTally(run.run_id, span=run.ids.next(), parent="run", groups=[_group_record(g) for g in groups],
                    winner=groups[0].representative.result.answer.normalized if groups else "",
                    samples=len(votes), stopped=stopped)
    return chosen


def _group_record(group: Group) -> dict[str, object]:
    return {"answer": group.representative.result.answer.normalized, "votes": len(group.members),
            "weight": group.weight, "rounds": [s.index for s, _ in group.members]}
