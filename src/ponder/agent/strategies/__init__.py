"""The strategies a run can use, by name, each in its own module behind one protocol
(`_registry.Strategy`); shared parts (the vote tally, the search tree) are private modules.

Importing this package registers every strategy, in the order `--help` lists them.
"""

# isort: off
from ponder.agent.strategies import chain, vote, best_of_n, beam, mcts, cascade  # noqa: F401  (each registers itself)
from ponder.agent.strategies._registry import STRATEGIES, Strategy, register

# isort: on

__all__ = ["STRATEGIES", "Strategy", "register"]
