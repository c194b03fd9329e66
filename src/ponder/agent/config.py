"""The settings every strategy takes: the chain's, the budget, and the search's own.

Rules that must hold:
- One `SearchConfig` reaches every strategy; a bare ChainConfig is accepted and means the
  defaults for everything else (`search_config`).
- Nothing here knows about the command line: cli/ask.py is the one place that turns flags
  into a SearchConfig.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ponder.agent.budget import Budget
from ponder.agent.chain import ChainConfig

SEED_STRIDE = 1000  # a chain seeds step k with seed + k; samples stay apart by this much


@dataclass(frozen=True)
class SearchConfig:
    """Settings of a strategy: its chains, its budget, review, sampling and scoring."""

    chain: ChainConfig = field(default_factory=ChainConfig)
    budget: Budget = field(default_factory=Budget)
    review: bool = True
    rounds: int = 2
    reflect: bool = True
    samples: int = 5
    sample_temperature: float = 0.7
    weighting: str = "verifier"  # vote weights: "count", "verifier", "verifier+confidence"
    scorers: tuple[str, ...] = ("verifier", "confidence")
    rule: str = "mean"  # how scores combine: "mean", "product", "min"
    width: int = 2  # beam: open paths kept after each step
    expansions: int = 2  # beam: samples of each path's next step; mcts: most children of a node
    exploration: float = 1.0  # mcts: the PUCT constant

    def sample_chain(self, index: int) -> ChainConfig:
        """The chain settings of sample `index` (0-based): diverse by temperature and seed."""
        base = self.chain.seed if self.chain.seed is not None else 0
        return replace(self.chain, temperature=self.sample_temperature, seed=base + SEED_STRIDE * index)


def search_config(config: ChainConfig | SearchConfig) -> SearchConfig:
    """A SearchConfig from either kind of config."""
    return config if isinstance(config, SearchConfig) else SearchConfig(chain=config)
