"""The strategies a run can use, by name. Every strategy has the signature of `run_question`:
(backend, question, config, *, run_id, model) -> an iterator of events ending in RunFinished.
`config` is a SearchConfig (a bare ChainConfig means its defaults).

- chain: one guided chain with a fresh-context review; REVISE thinks again (up to rounds).
- vote: N sampled chains, majority (optionally verifier-weighted) over equivalent answers.
- best-of-n: N sampled chains, the highest scorer-combined score wins.
- beam: step-level beam search over factor steps (width, expansions per step).
- mcts: MCTS whose actions are thought factors, priors from the model's choice of tag.
"""

from __future__ import annotations

from typing import Callable, Iterator

from ponder.agent.beam import run_beam
from ponder.agent.best_of_n import run_best_of_n
from ponder.agent.mcts import run_mcts
from ponder.agent.review_loop import run_chain
from ponder.agent.vote import run_vote
from ponder.trace.events import Event

Strategy = Callable[..., Iterator[Event]]

STRATEGIES: dict[str, Strategy] = {
    "chain": run_chain,
    "vote": run_vote,
    "best-of-n": run_best_of_n,
    "beam": run_beam,
    "mcts": run_mcts,
}
