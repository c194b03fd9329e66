"""The settings of a run, with every default in one place: the chain's, the budget's, and the
strategy's own.

Rules that must hold:
- Every default lives here; the command line reads its defaults from these dataclasses.
- Names with a fixed set of values are `Literal` types; `RunConfig.problems()` names every bad
  value (or bad mix of values) so the caller can refuse it before a model is loaded.
- One `RunConfig` reaches every strategy; a bare ChainConfig is accepted and means the
  defaults for everything else (`run_config`).
- Nothing here knows about the command line or imports the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from ponder.tools.sandbox import Limits

SEED_STRIDE = 1000  # a chain seeds step k with seed + k; samples stay apart by this much
MIN_CHAIN_TOKENS = 64  # no new chain starts with fewer completion tokens left than this
MIN_STEP_TOKENS = 16  # a chain jumps to its answer when fewer are left for another step
MAX_BUDGET_TOKENS = 100_000_000  # the most completion tokens a run's budget may name
MAX_SAMPLES = 64  # the most chains (vote, best-of-n) or rollouts (mcts) of one run
MAX_PARALLEL = 8  # the most sequences one context decodes side by side

SandboxMode = Literal["auto", "strict", "off"]
Weighting = Literal["count", "verifier", "verifier+confidence"]
Rule = Literal["mean", "product", "min"]
ScorerName = Literal["verifier", "confidence", "judge", "prm"]

SANDBOX_MODES: tuple[str, ...] = get_args(SandboxMode)
WEIGHTINGS: tuple[str, ...] = get_args(Weighting)
RULES: tuple[str, ...] = get_args(Rule)
SCORER_NAMES: tuple[str, ...] = get_args(ScorerName)


@dataclass(frozen=True)
class ChainConfig:
    """Settings of one guided chain."""

    max_tokens: int = 2048
    temperature: float = 0.0
    seed: int | None = None
    max_corrections: int | None = None  # None: the catalogue's own limit
    sandbox: SandboxMode = "auto"
    code_limits: Limits = Limits()


@dataclass(frozen=True)
class Budget:
    """Limits on a run: completion tokens, wall-clock seconds, and chains (samples or rounds)."""

    tokens: int | None = None
    seconds: float | None = None
    samples: int | None = None


@dataclass(frozen=True)
class RunConfig:
    """Settings of a strategy: its chains, its budget, review, sampling and scoring."""

    chain: ChainConfig = field(default_factory=ChainConfig)
    budget: Budget = field(default_factory=Budget)
    review: bool = True
    rounds: int = 2
    reflect: bool = True
    samples: int = 6  # the cascade as measured (benchmarks/results/quality): two greedy routes, four sampled
    sample_temperature: float = 0.7
    weighting: Weighting = "verifier"  # vote weights
    scorers: tuple[ScorerName, ...] = ("verifier", "confidence")
    rule: Rule = "mean"  # how scores combine
    prm: str | None = None  # the process reward model's directory (`--scorer prm:PATH`)
    width: int = 2  # beam: open paths kept after each step
    expansions: int = 2  # beam: samples of each path's next step; mcts: most children of a node
    exploration: float = 1.0  # mcts: the PUCT constant
    parallel: int = 4  # chains (or search steps) decoded side by side; 1 = one after another

    def sample_chain(self, index: int) -> ChainConfig:
        """The chain settings of sample `index` (0-based): diverse by temperature and seed."""
        base = self.chain.seed if self.chain.seed is not None else 0
        return replace(self.chain, temperature=self.sample_temperature, seed=base + SEED_STRIDE * index)

    def problems(self) -> list[str]:
        """Every bad value or bad mix of values, one phrase each (empty when the config is usable)."""
        found = [_not_one_of("scorer", name, SCORER_NAMES) for name in self.scorers if name not in SCORER_NAMES]
        if not self.scorers:
            found.append(f"no scorer given; available: {', '.join(SCORER_NAMES)}")
        if ("prm" in self.scorers) != bool(self.prm):
            found.append("the prm scorer needs its model's directory: --scorer prm:PATH")
        if self.weighting not in WEIGHTINGS:
            found.append(_not_one_of("weighting", self.weighting, WEIGHTINGS))
        if self.rule not in RULES:
            found.append(_not_one_of("rule", self.rule, RULES))
        if self.chain.sandbox not in SANDBOX_MODES:
            found.append(_not_one_of("sandbox mode", self.chain.sandbox, SANDBOX_MODES))
        if not 1 <= self.samples <= MAX_SAMPLES:
            found.append(f"--samples must be between 1 and {MAX_SAMPLES}")
        if not 1 <= self.parallel <= MAX_PARALLEL:
            found.append(f"--parallel must be between 1 and {MAX_PARALLEL}")
        found += _budget_problems(self)
        return found


def _budget_problems(config: RunConfig) -> list[str]:
    budget, found = config.budget, []
    if budget.tokens is not None and budget.tokens < MIN_CHAIN_TOKENS:
        found.append(f"--budget-tokens {budget.tokens} is below one chain's minimum of {MIN_CHAIN_TOKENS} tokens")
    if budget.tokens is not None and budget.tokens > MAX_BUDGET_TOKENS:
        found.append(f"--budget-tokens must be at most {MAX_BUDGET_TOKENS:_}".replace("_", ","))
    if budget.seconds is not None and budget.seconds < 0:
        found.append("--budget-seconds must not be negative")
    if config.chain.max_tokens < MIN_STEP_TOKENS:
        found.append(f"--max-tokens {config.chain.max_tokens} is below one step's minimum of {MIN_STEP_TOKENS}")
    return found


def _not_one_of(what: str, value: str, allowed: tuple[str, ...]) -> str:
    return f"unknown {what} {value!r}; available: {', '.join(allowed)}"


def run_config(config: ChainConfig | RunConfig) -> RunConfig:
    """A RunConfig from either kind of config."""
    return config if isinstance(config, RunConfig) else RunConfig(chain=config)
