"""The `ponder` command line (Typer).

Rules that must hold:
- Importing this module is cheap: llama_cpp, sympy, Rich rendering and the engine are
  imported inside the commands that use them, so `ponder --help` answers at once.
- stdout carries only the answer (or `--json`, or `--events` JSONL); everything else goes to
  stderr. Every user error is one line on stderr and a documented exit code.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ponder.errors import EXIT_INTERRUPTED, EXIT_USAGE, PonderError

app = typer.Typer(
    name="ponder",
    help="A reasoner that makes a small local model think slowly and check itself.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class SandboxMode(str, Enum):
    """How to run model-written code."""

    auto = "auto"
    strict = "strict"
    off = "off"


SANDBOX_HELP = "auto: bubblewrap, else resource limits only (with a warning); strict: bubblewrap or refuse; off: never run code."
TIMEOUT_HELP = "Wall-clock seconds each piece of model code may run."
MEMORY_HELP = "Address space each piece of model code may use, in MiB."


class Reasoning(str, Enum):
    """How much of the hidden chain of thought to show on stderr."""

    show = "show"
    collapse = "collapse"
    hide = "hide"


def _gpu_layers(value: str) -> str:
    """Accept 'auto' or a whole number of layers (-1 = all)."""
    if value == "auto":
        return value
    try:
        if int(value) >= -1:
            return value
    except ValueError:
        pass
    raise typer.BadParameter("must be 'auto' or a whole number of layers (-1 = all)")


@app.callback()
def _root() -> None:
    """A reasoner that makes a small local model think slowly and check itself."""


MODEL = typer.Option(None, "-m", "--model", envvar="PONDER_MODEL",
                     help="A GGUF path, or an embedded model: 'default' (1.5B) or 'small' (0.5B).")
CTX = typer.Option(4096, "--ctx", min=256, help="Context size in tokens.")
THREADS = typer.Option(None, "--threads", min=1, help="CPU threads (default: all cores).")
GPU_LAYERS = typer.Option("auto", "--gpu-layers", callback=_gpu_layers,
                          help="Layers to offload: 'auto' (all if the build has a GPU) or N.")
SEED = typer.Option(None, "--seed", help="Sampling seed.")
TEMPERATURE = typer.Option(0.0, "--temperature", "-t", min=0.0, help="Sampling temperature (0 = greedy).")
MAX_TOKENS = typer.Option(2048, "--max-tokens", min=16, help="Most completion tokens for each chain (--budget-tokens bounds the whole run).")
TRACE_DIR = typer.Option(None, "--trace-dir", help="Where to write JSONL traces of runs.")
NO_TRACE = typer.Option(False, "--no-trace", help="Write no trace files.")
SANDBOX = typer.Option(SandboxMode.auto, "--sandbox", help=SANDBOX_HELP)
CODE_TIMEOUT = typer.Option(5.0, "--code-timeout", min=0.1, max=600, help=TIMEOUT_HELP)
CODE_MEMORY = typer.Option(512, "--code-memory", min=64, max=65536, help=MEMORY_HELP)
VERBOSE = typer.Option(False, "-v", "--verbose", help="Show llama.cpp's logs and error details.")
STRATEGY_HELP = ("Inference strategy: chain (reviewed chain), vote (majority of samples), best-of-n (highest score), "
                 "beam (beam search over steps), mcts (tree search over thought factors).")
STRATEGY = typer.Option("chain", "--strategy", help=STRATEGY_HELP)
SAMPLES = typer.Option(5, "--samples", "-n", min=1, max=64, help="Chains sampled by vote and best-of-n, rollouts of mcts (the samples budget).")
WIDTH = typer.Option(2, "--width", min=1, max=16, help="beam: open paths kept after each step.")
EXPANSIONS = typer.Option(2, "--expansions", min=1, max=16, help="beam: versions sampled of each path's next step; mcts: most children of a node.")
ROUNDS = typer.Option(2, "--rounds", min=1, max=10, help="Most rounds of the chain strategy's review loop.")
BUDGET_TOKENS = typer.Option(None, "--budget-tokens", min=1, help="Most completion tokens for the whole run (all chains, reviews and judgements).")
BUDGET_SECONDS = typer.Option(None, "--budget-seconds", min=0.0, help="No new chain starts after this many seconds (the best answer so far is returned).")
NO_REVIEW = typer.Option(False, "--no-review", help="Skip the review of the chain strategy's answer.")
SCORER = typer.Option("verifier,confidence", "--scorer", help="Scorers of best-of-n, beam and mcts, comma-separated: verifier, confidence, judge.")


def _options(sandbox: SandboxMode, code_timeout: float, code_memory: int, reasoning: Optional[Reasoning] = None,
             scorer: str = "verifier,confidence", **fields):  # type: ignore[no-untyped-def]
    from ponder.cli.ask import AskOptions

    scorers = tuple(name.strip() for name in scorer.split(",") if name.strip())
    return AskOptions(sandbox=sandbox.value, code_limits=_limits(code_timeout, code_memory),
                      reasoning=reasoning.value if reasoning else None, scorers=scorers, **fields)


@app.command()
def ask(
    question: Optional[str] = typer.Argument(None, help="The question; read from stdin when piped (both combine)."),
    model: Optional[str] = MODEL, ctx: int = CTX, threads: Optional[int] = THREADS, gpu_layers: str = GPU_LAYERS,
    seed: Optional[int] = SEED, temperature: float = TEMPERATURE, max_tokens: int = MAX_TOKENS,
    reasoning: Optional[Reasoning] = typer.Option(
        None, "--reasoning", help="Show the thought steps in full, one line each, or not at all [default: collapse on a terminal, else hide].",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: answer, steps, usage, trace path."),
    events: bool = typer.Option(False, "--events", help="Print the run's trace events as JSONL on stdout."),
    strategy: str = STRATEGY, samples: int = SAMPLES, rounds: int = ROUNDS, budget_tokens: Optional[int] = BUDGET_TOKENS,
    budget_seconds: Optional[float] = BUDGET_SECONDS, no_review: bool = NO_REVIEW, scorer: str = SCORER,
    width: int = WIDTH, expansions: int = EXPANSIONS,
    trace_dir: Optional[Path] = TRACE_DIR, no_trace: bool = NO_TRACE,
    sandbox: SandboxMode = SANDBOX, code_timeout: float = CODE_TIMEOUT, code_memory: int = CODE_MEMORY,
    verbose: bool = VERBOSE,
) -> None:
    """Think about a question in thought factors and print a checked answer."""
    from ponder.cli.ask import run_ask

    if as_json and events:
        raise typer.BadParameter("--json and --events cannot be used together", param_hint="--json")
    options = _options(sandbox, code_timeout, code_memory, reasoning, model=model, ctx=ctx, threads=threads,
                       gpu_layers=gpu_layers, seed=seed, temperature=temperature, max_tokens=max_tokens,
                       as_json=as_json, events=events, trace_dir=trace_dir, no_trace=no_trace, verbose=verbose,
                       strategy=strategy, samples=samples, rounds=rounds, budget_tokens=budget_tokens, budget_seconds=budget_seconds,
                       review=not no_review, scorer=scorer, width=width, expansions=expansions)
    raise typer.Exit(run_ask(question, options))


@app.command()
def batch(
    source: str = typer.Argument("-", help="Questions: a text file (one per line) or JSONL (id, question); - for stdin."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Results JSONL (default: stdout)."),
    resume: bool = typer.Option(False, "--resume", help="Skip ids already in OUTPUT (repairing a torn last line)."),
    strategy: str = STRATEGY,
    samples: int = SAMPLES, rounds: int = ROUNDS, budget_tokens: Optional[int] = BUDGET_TOKENS,
    budget_seconds: Optional[float] = BUDGET_SECONDS, no_review: bool = NO_REVIEW, scorer: str = SCORER,
    width: int = WIDTH, expansions: int = EXPANSIONS,
    model: Optional[str] = MODEL, ctx: int = CTX, threads: Optional[int] = THREADS, gpu_layers: str = GPU_LAYERS,
    seed: Optional[int] = SEED, temperature: float = TEMPERATURE, max_tokens: int = MAX_TOKENS,
    trace_dir: Optional[Path] = TRACE_DIR, no_trace: bool = NO_TRACE,
    sandbox: SandboxMode = SANDBOX, code_timeout: float = CODE_TIMEOUT, code_memory: int = CODE_MEMORY,
    verbose: bool = VERBOSE,
) -> None:
    """Answer every question of a file, one JSON line per item (exit 4 if any failed)."""
    from ponder.cli.batch import run_batch

    options = _options(sandbox, code_timeout, code_memory, model=model, ctx=ctx, threads=threads,
                       gpu_layers=gpu_layers, seed=seed, temperature=temperature, max_tokens=max_tokens,
                       trace_dir=trace_dir, no_trace=no_trace, verbose=verbose, samples=samples, rounds=rounds, budget_tokens=budget_tokens, budget_seconds=budget_seconds,
                       review=not no_review, scorer=scorer, width=width, expansions=expansions)
    raise typer.Exit(run_batch(source, output, resume, strategy, options))


@app.command("eval")
def evaluate(
    dataset: str = typer.Argument(..., help="JSONL with 'question' and 'answer' (GSM8K '#### 18' accepted)."),
    strategy: str = typer.Option("chain", "--strategy", help="Comma-separated strategies to compare: chain, vote, best-of-n, beam, mcts."),
    samples: int = SAMPLES, rounds: int = ROUNDS, budget_tokens: Optional[int] = BUDGET_TOKENS,
    budget_seconds: Optional[float] = BUDGET_SECONDS, no_review: bool = NO_REVIEW, scorer: str = SCORER,
    width: int = WIDTH, expansions: int = EXPANSIONS,
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N lines of the dataset."),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="Results, report.json and the plot [default: ponder-eval-DATASET]."),
    resume: bool = typer.Option(False, "--resume", help="Continue the results already in OUT_DIR."),
    model: Optional[str] = MODEL, ctx: int = CTX, threads: Optional[int] = THREADS, gpu_layers: str = GPU_LAYERS,
    seed: Optional[int] = SEED, temperature: float = TEMPERATURE, max_tokens: int = MAX_TOKENS,
    trace_dir: Optional[Path] = TRACE_DIR, no_trace: bool = NO_TRACE,
    sandbox: SandboxMode = SANDBOX, code_timeout: float = CODE_TIMEOUT, code_memory: int = CODE_MEMORY,
    verbose: bool = VERBOSE,
) -> None:
    """Measure accuracy, tokens and time of strategies on questions with known answers."""
    from ponder.cli.batch import run_eval

    options = _options(sandbox, code_timeout, code_memory, model=model, ctx=ctx, threads=threads,
                       gpu_layers=gpu_layers, seed=seed, temperature=temperature, max_tokens=max_tokens,
                       trace_dir=trace_dir, no_trace=no_trace, verbose=verbose, samples=samples, rounds=rounds, budget_tokens=budget_tokens, budget_seconds=budget_seconds,
                       review=not no_review, scorer=scorer, width=width, expansions=expansions)
    names = [name.strip() for name in strategy.split(",") if name.strip()]
    directory = out_dir or Path(f"ponder-eval-{Path(dataset).stem}")
    raise typer.Exit(run_eval(dataset, names, limit, directory, resume, options))


def _limits(timeout: float, memory_mib: int):  # type: ignore[no-untyped-def]
    from ponder.tools.sandbox import Limits

    return Limits(wall_seconds=timeout, cpu_seconds=max(1, int(timeout + 0.999)), memory_bytes=memory_mib * 1024 * 1024)


class ExportFormat(str, Enum):
    """Formats `ponder view --export` writes."""

    md = "md"


class Theme(str, Enum):
    """Colour themes of the viewer."""

    dark = "dark"
    light = "light"


@app.command()
def view(
    trace: Optional[str] = typer.Argument(None, help="A trace file, a directory of traces, or - for stdin (default: the trace directory)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Update live as events are appended (a directory: its newest run)."),
    export: Optional[ExportFormat] = typer.Option(None, "--export", help="Print the run as Markdown instead of opening the viewer."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="With --export: write to this file instead of stdout."),
    trace_dir: Optional[Path] = typer.Option(None, "--trace-dir", help="Directory of traces to list when no TRACE is given."),
    theme: Theme = typer.Option(Theme.dark, "--theme", envvar="PONDER_THEME", help="Colour theme of the viewer."),
) -> None:
    """Browse traces of past or running runs: steps, checks, tool calls and totals."""
    from ponder.cli.viewer.command import run_view

    code = run_view(trace, follow=follow, export=export.value if export else None, output=output,
                    trace_dir=trace_dir, theme=theme.value)
    raise typer.Exit(code)


tools_app = typer.Typer(help="Run the verifiers by hand: exactly what the reasoner may do.", no_args_is_help=True)
app.add_typer(tools_app, name="tools")


@tools_app.command("python")
def tools_python(
    file: str = typer.Argument("-", help="A Python file, or - for stdin."),
    sandbox: SandboxMode = typer.Option(SandboxMode.auto, "--sandbox", help=SANDBOX_HELP),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, max=600, help=TIMEOUT_HELP),
    memory: int = typer.Option(512, "--memory", min=64, max=65536, help=MEMORY_HELP),
) -> None:
    """Run Python in the sandbox and print the result as JSON (exit 1 unless it ran cleanly)."""
    from ponder.cli.tools import run_python_tool

    raise typer.Exit(run_python_tool(file, sandbox.value, _limits(timeout, memory)))


@tools_app.command("check")
def tools_check(
    claim: str = typer.Argument(..., help="A sympy claim, e.g. '16 - 3 - 4 == 9' or 'solve(2*x + 3 = 11, x)'."),
    sandbox: SandboxMode = typer.Option(SandboxMode.auto, "--sandbox", help=SANDBOX_HELP),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, max=600, help=TIMEOUT_HELP),
) -> None:
    """Evaluate one claim with sympy in the sandbox; print JSON (exit 0 true/value, 1 false/error, 2 refused)."""
    from ponder.cli.tools import run_check_tool

    raise typer.Exit(run_check_tool(claim, sandbox.value, _limits(timeout, 512)))


def _fail(message: str, code: int) -> int:
    from ponder.cli.safe import visible

    sys.stderr.write(f"ponder: error: {visible(message)}\n")
    sys.stderr.flush()
    return code


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map errors to one line and an exit code."""
    usage_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
    verbose = any(a in ("-v", "--verbose") for a in (argv if argv is not None else sys.argv[1:]))
    try:
        code = app(args=argv, prog_name="ponder", standalone_mode=False)
    except usage_error as exc:  # type: ignore[misc]
        code = _fail(exc.format_message().replace("\n", " "), EXIT_USAGE)
    except typer.Exit as exc:
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        code = _fail("interrupted", EXIT_INTERRUPTED)

    except PonderError as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        code = _fail(str(exc), exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
