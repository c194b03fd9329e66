"""The flags shared by `ask`, `chat`, `batch` and `eval`, declared once, and the one typed `Options`
they become.

Rules that must hold:
- Every shared flag is declared once, here, in a help panel (Model, Thinking, Budget, Output,
  Sandbox), its default read from the dataclass that owns it (`agent.settings.RunConfig`,
  `llm.llama.LoadOptions`), never spelled a second time.
- `@with_options(...)` appends the flags to a command's signature and calls the command with
  one `Options`, built and checked first: every bad value or bad mix is a UsageError (one
  line, exit 2) before any model loads. Strategy names are checked against the registry.
- Importing this module loads no model and no native library.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from ponder.agent.settings import (
    MAX_BUDGET_TOKENS,
    MAX_PARALLEL,
    MAX_SAMPLES,
    RULES,
    SANDBOX_MODES,
    SCORER_NAMES,
    WEIGHTINGS,
    Budget,
    ChainConfig,
    RunConfig,
)
from ponder.agent.strategies import STRATEGIES
from ponder.batch.items import FORMATS
from ponder.cli.safe import visible
from ponder import inputs
from ponder.errors import UsageError
from ponder.llm.llama import LoadOptions
from ponder.llm.loader import BACKENDS
from ponder.tools.sandbox import Limits

RUN, LOAD, LIMITS = RunConfig(), LoadOptions(), Limits()
DEFAULT_STRATEGY = "cascade"

SandboxMode = Enum("SandboxMode", {name: name for name in SANDBOX_MODES}, type=str)  # type: ignore[misc]
Weighting = Enum("Weighting", {name: name for name in WEIGHTINGS}, type=str)  # type: ignore[misc]
Rule = Enum("Rule", {name: name for name in RULES}, type=str)  # type: ignore[misc]
QuestionFormat = Enum("QuestionFormat", {name: name for name in FORMATS}, type=str)  # type: ignore[misc]
BackendName = Enum("BackendName", {name: name for name in BACKENDS}, type=str)  # type: ignore[misc]


class Reasoning(str, Enum):
    """How much of the hidden chain of thought to show on stderr."""

    show = "show"
    collapse = "collapse"
    hide = "hide"


@dataclass(frozen=True)
class Output:
    """Where a run's results go: the reasoning view, stdout's form, traces, logs."""

    reasoning: str | None = None  # None: collapse on a terminal, else hide
    as_json: bool = False
    events: bool = False
    trace_dir: Path | None = None
    no_trace: bool = False
    verbose: bool = False


@dataclass(frozen=True)
class Options:
    """Everything a command was asked to do: the model, the strategies, the run, the output."""

    model: str | None = None
    load: LoadOptions = field(default_factory=LoadOptions)
    strategies: tuple[str, ...] = (DEFAULT_STRATEGY,)
    run: RunConfig = field(default_factory=RunConfig)
    output: Output = field(default_factory=Output)

    @property
    def strategy(self) -> str:
        """The one strategy of `ask` and `batch`."""
        return self.strategies[0]


def gpu_layers(value: str) -> str:
    """Accept 'auto' or a whole number of layers (-1 = all)."""
    if value == "auto":
        return value
    try:
        if -1 <= int(value) <= 100_000:
            return value
    except ValueError:
        pass
    raise typer.BadParameter("must be 'auto' or a whole number of layers (-1 = all)")


def directory_path(value: str | None) -> Path | None:
    """A directory's path as typed: an empty one is a usage error (a Path would read it as '.')."""
    if value is not None and not value.strip():
        raise typer.BadParameter("is empty; give a directory")
    return None if value is None else Path(value)


def output_file(value: str | None) -> Path | None:
    """An output file's path as typed: one ending in '/' names a directory (a Path would drop
    the slash and write a file of the directory's name), a usage error."""
    if value is not None and not value.strip():
        raise typer.BadParameter("is empty; give a file name (or - for stdout)")
    if value is not None and value != "-" and value.endswith(("/", os.sep)):
        raise typer.BadParameter(f"{value!r} names a directory (it ends with /); give a file name")
    return None if value is None else Path(value)


def base_url(value: str | None) -> str | None:
    """Accept an http(s) URL (the API root of an OpenAI-compatible server), normalized;
    without one, $OPENAI_BASE_URL's, which is set for other tools too: one that is not an
    http(s) URL is passed over with a warning, where a bad --base-url is a usage error."""
    fallback = os.environ.get("OPENAI_BASE_URL", "").strip()
    if not value and not fallback:
        return None
    from ponder.llm.openai_http import normalize_base_url

    try:
        return normalize_base_url(value or fallback)
    except UsageError:
        if not value:
            _warn_once("$OPENAI_BASE_URL is not an http:// or https:// URL; ponder does not use it")
            return None
        raise typer.BadParameter("must be an http:// or https:// URL, such as http://127.0.0.1:8000/v1",
                                 param_hint="--base-url") from None


@functools.lru_cache(maxsize=None)
def _warn_once(message: str) -> None:
    sys.stderr.write(f"ponder: warning: {message}\n")


def server_url(url: str | None, backend: str) -> str | None:
    """The server to use: none with an in-process backend other than llama.cpp, where a --base-url
    (or $PONDER_BASE_URL) is a UsageError and $OPENAI_BASE_URL, set for other tools, is passed over."""
    if not url or backend == LOAD.backend:
        return url
    fallback = os.environ.get("OPENAI_BASE_URL", "").strip()
    if not os.environ.get("PONDER_BASE_URL") and fallback and base_url(None) == url:
        return None
    raise UsageError(f"--backend {backend} runs the model in this process; it cannot be used with --base-url")


def limits(timeout: float, memory_mib: int) -> Limits:
    """Sandbox limits for each piece of model code."""
    return replace(LIMITS, wall_seconds=timeout, cpu_seconds=max(1, int(timeout + 0.999)),
                   memory_bytes=memory_mib * 1024 * 1024)


def _strategy_help(many: bool) -> str:
    names = ", ".join(STRATEGIES)
    return f"{'Comma-separated strategies to compare' if many else 'Strategy'}: {names}. See `ponder strategies`."


# `--format` of the commands that read a question file (batch, eval); declared here once.
FORMAT_OPTION: Any = typer.Option(
    QuestionFormat("auto"), "--format",
    help="Question file: text (one per line), jsonl, or auto: JSONL when the first non-blank line is (or begins as) a JSON object.")

MAX_CTX = 1 << 20  # llama.cpp counts cells in 32 bits (--ctx times the sequences): past this a context wraps

# `--concurrency` of the commands that run many items (batch, eval); declared here once.
MAX_CONCURRENCY = 256
CONCURRENCY_OPTION: Any = typer.Option(
    1, "--concurrency", min=1, max=MAX_CONCURRENCY,
    help="Items in flight at once; more than 1 needs a server (--base-url): an in-process model answers one at a time.")

SANDBOX_HELP = "auto: bubblewrap, else rlimits only (warned); strict: bubblewrap or refuse; off: never run code."
TIMEOUT_HELP = "Wall-clock seconds each piece of model code may run."
MEMORY_HELP = "Address space each piece of model code may use, in MiB."

_M, _T, _B, _O, _S = "Model", "Thinking", "Budget", "Output", "Sandbox"

# name -> (annotation, typer.Option). The order is the order of --help within each panel.
MODEL_FLAGS: dict[str, tuple[Any, Any]] = {
    "model": (Optional[str], typer.Option(None, "-m", "--model", envvar="PONDER_MODEL", rich_help_panel=_M,
                                          help="default (1.5B), small (0.5B), fake, a name from `ponder models`, or a GGUF "
                                               "path; with --base-url, the server's model (default: the first it lists).")),
    "base_url": (Optional[str], typer.Option(LOAD.base_url, "--base-url", envvar="PONDER_BASE_URL",
                                             callback=base_url, rich_help_panel=_M,
                                             help="An OpenAI-compatible server (vLLM, llama-server…), e.g. "
                                                  "http://127.0.0.1:8000/v1 (else $OPENAI_BASE_URL); "
                                                  "key from $PONDER_API_KEY or $OPENAI_API_KEY.")),
    "backend": (BackendName, typer.Option(BackendName(LOAD.backend), "--backend", envvar="PONDER_BACKEND",
                                          rich_help_panel=_M,
                                          help="What runs the model here: llama (llama.cpp) or transformers (torch, "
                                               "on CUDA when present; needs the torch extra).")),
    "ctx": (int, typer.Option(LOAD.n_ctx, "--ctx", min=256, max=MAX_CTX, rich_help_panel=_M, help="Context size in tokens.")),
    "threads": (Optional[int], typer.Option(None, "--threads", min=1, max=1024, rich_help_panel=_M,
                                            help="CPU threads (default: all cores).")),
    "gpu_layers": (str, typer.Option(LOAD.gpu_layers, "--gpu-layers", callback=gpu_layers, rich_help_panel=_M,
                                     help="Layers to offload: auto (all with a GPU build) or N.")),
}
THINKING_FLAGS: dict[str, tuple[Any, Any]] = {
    "samples": (int, typer.Option(RUN.samples, "--samples", "-n", min=1, max=MAX_SAMPLES, rich_help_panel=_T,
                                  help="Chains of vote/best-of-n, rollouts of mcts.")),
    "rounds": (int, typer.Option(RUN.rounds, "--rounds", min=1, max=10, rich_help_panel=_T,
                                 help="Most rounds of chain's review loop.")),
    "no_review": (bool, typer.Option(False, "--no-review", rich_help_panel=_T, help="chain: answer without a review.")),
    "scorer": (str, typer.Option(",".join(RUN.scorers), "--scorer", rich_help_panel=_T,
                                 help=f"Scorers, comma-separated: {', '.join(SCORER_NAMES)} (prm:PATH, a reward model's directory).")),
    "rule": (Rule, typer.Option(Rule(RUN.rule), "--rule", rich_help_panel=_T, help="How scores combine.")),
    "weighting": (Weighting, typer.Option(Weighting(RUN.weighting), "--weighting", rich_help_panel=_T, help="vote: weight of a vote.")),
    "width": (int, typer.Option(RUN.width, "--width", min=1, max=16, rich_help_panel=_T,
                                help="beam: paths kept after each step.")),
    "expansions": (int, typer.Option(RUN.expansions, "--expansions", min=1, max=16, rich_help_panel=_T,
                                     help="beam: versions of each step; mcts: children of a node.")),
    "parallel": (int, typer.Option(RUN.parallel, "--parallel", "-P", min=1, max=MAX_PARALLEL, rich_help_panel=_T,
                                   help="Chains (or search steps) decoded side by side.")),
    "max_tokens": (int, typer.Option(RUN.chain.max_tokens, "--max-tokens", min=16, max=1_000_000, rich_help_panel=_T,
                                     help="Most completion tokens of each chain.")),
    "temperature": (float, typer.Option(RUN.chain.temperature, "--temperature", "-t", min=0.0, max=10.0,
                                        rich_help_panel=_T, help="Temperature of the chain (0 = greedy).")),
    "seed": (Optional[int], typer.Option(None, "--seed", min=0, max=2**31 - 1, rich_help_panel=_T, help="Sampling seed.")),
}
BUDGET_FLAGS: dict[str, tuple[Any, Any]] = {
    "budget_tokens": (Optional[int], typer.Option(None, "--budget-tokens", min=1, max=MAX_BUDGET_TOKENS, rich_help_panel=_B,
                                                  help="Most completion tokens of the whole run.")),
    "budget_seconds": (Optional[float], typer.Option(None, "--budget-seconds", min=0.0, max=1e7, rich_help_panel=_B,
                                                     help="No new chain starts after this many seconds.")),
}
TRACE_FLAGS: dict[str, tuple[Any, Any]] = {
    "trace_dir": (Optional[str], typer.Option(None, "--trace-dir", callback=directory_path, rich_help_panel=_O,
                                              help="Where JSONL traces go.")),
    "no_trace": (bool, typer.Option(False, "--no-trace", rich_help_panel=_O, help="Write no trace files.")),
    "verbose": (bool, typer.Option(False, "-v", "--verbose", rich_help_panel=_O,
                                   help="llama.cpp's logs and error details.")),
}
ANSWER_FLAGS: dict[str, tuple[Any, Any]] = {
    "reasoning": (Optional[Reasoning], typer.Option(
        None, "--reasoning", rich_help_panel=_O,
        help="Thought steps on stderr (default: collapse on a terminal, else hide).")),
    "as_json": (bool, typer.Option(False, "--json", rich_help_panel=_O, help="One JSON object: answer, steps, usage.")),
    "events": (bool, typer.Option(False, "--events", rich_help_panel=_O, help="The run's trace events as JSONL.")),
}
SANDBOX_FLAGS: dict[str, tuple[Any, Any]] = {
    "sandbox": (SandboxMode, typer.Option(SandboxMode(RUN.chain.sandbox), "--sandbox", rich_help_panel=_S, help=SANDBOX_HELP)),
    "code_timeout": (float, typer.Option(LIMITS.wall_seconds, "--code-timeout", min=0.1, max=600, rich_help_panel=_S,
                                         help=TIMEOUT_HELP)),
    "code_memory": (int, typer.Option(LIMITS.memory_bytes // 2**20, "--code-memory", min=64, max=65536,
                                      rich_help_panel=_S, help=MEMORY_HELP)),
}


def with_options(*, answer_flags: bool = False, many_strategies: bool = False,
                 reasoning_flag: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the shared flags to a Typer command, which then takes `options: Options` instead
    (`answer_flags`: --reasoning, --json and --events; `reasoning_flag`: --reasoning alone)."""
    strategy_flag = {"strategy": (str, typer.Option(DEFAULT_STRATEGY, "--strategy", rich_help_panel=_T,
                                                    help=_strategy_help(many_strategies)))}
    answer = ANSWER_FLAGS if answer_flags else {"reasoning": ANSWER_FLAGS["reasoning"]} if reasoning_flag else {}
    flags = {**MODEL_FLAGS, **strategy_flag, **THINKING_FLAGS, **BUDGET_FLAGS, **answer, **TRACE_FLAGS,
             **SANDBOX_FLAGS}

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "options"]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)
                 for name, (annotation, option) in flags.items()]

        @functools.wraps(command)
        def wrapper(**values: Any) -> Any:
            shared = {name: values.pop(name) for name in flags}
            return command(**values, options=build_options(shared, many_strategies))

        wrapper.__signature__ = inspect.Signature(own + added)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in own + added}
        return wrapper

    return decorate


def parse_scorers(value: str) -> tuple[tuple[str, ...], str | None]:
    """`--scorer`'s names, and the reward model's directory of `prm:PATH` (UsageError if it is not one)."""
    names, prm = [], None
    for part in (p.strip() for p in value.split(",")):
        name, _, path = part.partition(":")
        if name == "prm":
            prm = os.path.expanduser(path)
            if not path or not os.path.isdir(prm):
                raise UsageError(f"--scorer prm needs a model directory: prm:PATH ({visible(path) or 'none given'} "
                                 "is not a directory)")
        if part:
            names.append(name)
    return tuple(names), prm


def build_options(values: dict[str, Any], many_strategies: bool = False) -> Options:
    """The typed Options from the shared flags' values, checked (UsageError on any bad value)."""
    strategies = tuple(name.strip() for name in values["strategy"].split(",") if name.strip())
    check_strategies(strategies, many_strategies)
    chain = ChainConfig(max_tokens=values["max_tokens"], temperature=values["temperature"], seed=values["seed"],
                        sandbox=_value(values["sandbox"]), code_limits=limits(values["code_timeout"], values["code_memory"]))
    budget = Budget(tokens=values["budget_tokens"], seconds=values["budget_seconds"], samples=values["samples"])
    scorers, prm = parse_scorers(values["scorer"])
    run = replace(RUN, chain=chain, budget=budget, review=not values["no_review"], rounds=values["rounds"],
                  samples=values["samples"], scorers=scorers, prm=prm, rule=_value(values["rule"]),  # type: ignore[arg-type]
                  weighting=_value(values["weighting"]), width=values["width"], expansions=values["expansions"],
                  parallel=values["parallel"])
    problems = run.problems()
    if problems:
        raise UsageError("; ".join(problems))
    if prm and not any(STRATEGIES[name].scored for name in strategies):  # never load a reward model for nothing
        raise UsageError("--scorer prm:PATH applies to the strategies that read scorers: "
                         + ", ".join(name for name, s in STRATEGIES.items() if s.scored))
    if values["model"] is not None and not values["model"].strip():  # not the default model in disguise
        raise UsageError("-m/--model is empty; give default, small, fake, a name from `ponder models` or a GGUF path")
    if values["model"] is not None:
        inputs.argument_text(values["model"], "-m/--model")
    if values.get("as_json") and values.get("events"):
        raise UsageError("--json and --events cannot be used together")
    sides = values["parallel"] if any(STRATEGIES[name].parallel for name in strategies) else 1
    backend = _value(values.get("backend")) or LOAD.backend
    load = LoadOptions(n_ctx=values["ctx"], n_threads=values["threads"], gpu_layers=values["gpu_layers"],
                       seed=values["seed"] or 0, verbose=values["verbose"], sequences=sides,
                       base_url=server_url(values.get("base_url"), backend), backend=backend)
    output = Output(reasoning=_value(values.get("reasoning")), as_json=values.get("as_json", False),
                    events=values.get("events", False), trace_dir=values["trace_dir"], no_trace=values["no_trace"],
                    verbose=values["verbose"])
    return Options(model=values["model"], load=load, strategies=strategies, run=run, output=output)


def check_strategies(names: tuple[str, ...], many: bool = True) -> None:
    """Refuse unknown, missing or repeated strategy names (one line, exit 2)."""
    available = ", ".join(STRATEGIES)
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown or not names:
        raise UsageError(f"unknown strategy {', '.join(unknown) or '(none)'}; available: {available}")
    if len(set(names)) != len(names):
        raise UsageError(f"a strategy is named twice in {','.join(names)}")
    if len(names) > 1 and not many:
        raise UsageError("give one strategy (eval compares several)")


def _value(choice: Any) -> Any:
    return choice.value if isinstance(choice, Enum) else choice
