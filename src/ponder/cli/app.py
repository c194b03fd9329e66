"""The `ponder` command line (Typer).

Rules that must hold:
- Importing this module is cheap: llama_cpp, sympy, Rich rendering and the engine's model
  calls are imported inside the commands that use them, so `ponder --help` answers at once
  (the strategy registry is imported, for help and validation: it loads no model).
- Flags shared by ask, chat, batch and eval are declared once, in `cli/options.py`.
- stdout carries only the answer (or `--json`, or `--events` JSONL); everything else goes to
  stderr. Every user error is one line on stderr and a documented exit code.
- `main` is the one place that guards the process: closed standard fds get /dev/null, a
  failed stdout is one line and exit 1 (`cli/streams.py`), a failed stderr costs nothing,
  and SIGTERM stops a run as SIGINT does (`ponder.interrupts`), with exit 143 instead of 130.
  An OSError that no command turned into a PonderError is one line too (exit 2 for a path
  name too long, else 1), never a traceback; `-v` adds it.
"""

from __future__ import annotations

import errno
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ponder.agent.strategies import STRATEGIES
from ponder.cli.models import models_app
from ponder.cli.options import (
    CONCURRENCY_OPTION,
    DEFAULT_STRATEGY,
    FORMAT_OPTION,
    LIMITS,
    MEMORY_HELP,
    SANDBOX_HELP,
    TIMEOUT_HELP,
    Options,
    QuestionFormat,
    SandboxMode,
    limits,
    directory_path,
    output_file,
    with_options,
)
from ponder.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, PonderError

app = typer.Typer(
    name="ponder",
    help="A reasoner that makes a small local model think slowly and check itself.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """A reasoner that makes a small local model think slowly and check itself."""


@app.command()
@with_options(answer_flags=True)
def ask(
    question: Optional[str] = typer.Argument(None, help="The question; read from stdin when piped (both combine)."),
    *, options: Options,
) -> None:
    """Think about a question in thought factors and print a checked answer."""
    from ponder.cli.ask import run_ask

    raise typer.Exit(run_ask(question, options))


@app.command()
@with_options(reasoning_flag=True)
def chat(*, options: Options) -> None:
    """Talk with the reasoner: questions and follow-ups at a prompt, the model loaded once (/help inside)."""
    from ponder.cli.chat import run_chat

    raise typer.Exit(run_chat(options))


@app.command()
@with_options()
def batch(
    source: str = typer.Argument("-", help="Questions: a text file (one per line) or JSONL (id, question); - for stdin."),
    output: Optional[str] = typer.Option(None, "-o", "--output", callback=output_file,
                                         help="Results JSONL (default, or -: stdout)."),
    resume: bool = typer.Option(False, "--resume", help="Skip ids already in OUTPUT; lines that are not whole records move to OUTPUT.rejected."),
    question_format: QuestionFormat = FORMAT_OPTION,
    concurrency: int = CONCURRENCY_OPTION,
    *, options: Options,
) -> None:
    """Answer every question of a file, one JSON line per item (exit 4 if any failed)."""
    from ponder.cli.batch import run_batch

    to_stdout = output is None or str(output) == "-"  # '-' is stdout, as it is stdin for SOURCE
    raise typer.Exit(run_batch(source, None if to_stdout else output, resume, options, question_format.value, concurrency))


@app.command("eval")
@with_options(many_strategies=True)
def evaluate(
    dataset: str = typer.Argument(..., help="JSONL with 'question' and 'answer' (GSM8K '#### 18' accepted)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N lines of the dataset."),
    out_dir: Optional[str] = typer.Option(None, "--out-dir", callback=directory_path,
                                          help="Results, report.json and the plot [default: ponder-eval-DATASET]."),
    resume: bool = typer.Option(False, "--resume", help="Continue the results already in OUT_DIR."),
    question_format: QuestionFormat = FORMAT_OPTION,
    concurrency: int = CONCURRENCY_OPTION,
    *, options: Options,
) -> None:
    """Measure accuracy, tokens and time of strategies on questions with known answers."""
    from ponder.cli.batch import run_eval

    directory = out_dir or Path(f"ponder-eval-{Path(dataset).stem}")
    raise typer.Exit(run_eval(dataset, limit, directory, resume, options, question_format.value, concurrency))


@app.command()
def doctor() -> None:
    """Check this machine: llama.cpp's GPU support, the sandbox, the models, torch, a server (exit 3: no usable model)."""
    from ponder.cli.doctor import run_doctor

    raise typer.Exit(run_doctor())


@app.command("strategies")
def list_strategies() -> None:
    """List the strategies `--strategy` takes, with what each does."""
    width = max(len(name) for name in STRATEGIES)
    for name, strategy in STRATEGIES.items():
        default = "  (default)" if name == DEFAULT_STRATEGY else ""
        sys.stdout.write(f"{name:<{width}}  {strategy.summary}{default}\n")


class ExportFormat(str, Enum):
    """Formats `ponder view --export` writes."""

    md = "md"


@app.command()
def view(
    trace: Optional[str] = typer.Argument(None, help="A trace file, a directory of traces, or - for stdin (default: the trace directory)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Update live as events are appended (a directory: its newest run)."),
    export: Optional[ExportFormat] = typer.Option(None, "--export", help="Print the run as Markdown instead of opening the viewer."),
    output: Optional[str] = typer.Option(None, "-o", "--output", callback=output_file,
                                         help="With --export: write to this file instead of stdout."),
    trace_dir: Optional[Path] = typer.Option(None, "--trace-dir", help="Directory of traces to list when no TRACE is given."),
    theme: str = typer.Option("dark", "--theme", envvar="PONDER_THEME",
                              help="Colour theme of the viewer: dark or light (--export ignores it)."),
) -> None:
    """Browse traces of past or running runs: steps, checks, tool calls and totals."""
    from ponder.cli.viewer.command import run_view

    code = run_view(trace, follow=follow, export=export.value if export else None, output=output,
                    trace_dir=trace_dir, theme=theme)
    raise typer.Exit(code)


tools_app = typer.Typer(help="Run the verifiers by hand: exactly what the reasoner may do.", no_args_is_help=True)
app.add_typer(tools_app, name="tools")
app.add_typer(models_app, name="models")


@tools_app.command("python")
def tools_python(
    file: str = typer.Argument("-", help="A Python file, or - for stdin."),
    sandbox: SandboxMode = typer.Option(SandboxMode("auto"), "--sandbox", help=SANDBOX_HELP),
    timeout: float = typer.Option(LIMITS.wall_seconds, "--timeout", min=0.1, max=600, help=TIMEOUT_HELP),
    memory: int = typer.Option(LIMITS.memory_bytes // 2**20, "--memory", min=64, max=65536, help=MEMORY_HELP),
) -> None:
    """Run Python in the sandbox and print the result as JSON (exit 1 unless it ran cleanly)."""
    from ponder.cli.tools import run_python_tool

    raise typer.Exit(run_python_tool(file, sandbox.value, limits(timeout, memory)))


@tools_app.command("check")
def tools_check(
    claim: str = typer.Argument(..., help="A sympy claim, e.g. '16 - 3 - 4 == 9' or 'solve(2*x + 3 = 11, x)'."),
    sandbox: SandboxMode = typer.Option(SandboxMode("auto"), "--sandbox", help=SANDBOX_HELP),
    timeout: float = typer.Option(LIMITS.wall_seconds, "--timeout", min=0.1, max=600, help=TIMEOUT_HELP),
) -> None:
    """Evaluate one claim with sympy in the sandbox; print JSON (exit 0 true/value, 1 false/error, 2 refused)."""
    from ponder.cli.tools import run_check_tool

    raise typer.Exit(run_check_tool(claim, sandbox.value, limits(timeout, LIMITS.memory_bytes // 2**20)))


def _fail(message: str, code: int) -> int:
    from ponder.cli.safe import one_line

    sys.stderr.write(f"ponder: error: {one_line(message)}\n")
    sys.stderr.flush()
    return code


def main(argv: list[str] | None = None) -> None:
    """Entry point: guard the streams and signals, run the app, map errors to one line and a code."""
    from ponder import interrupts
    from ponder.cli import streams

    streams.guard()
    interrupts.install()
    verbose = any(a in ("-v", "--verbose") for a in (argv if argv is not None else sys.argv[1:]))
    try:
        code = _dispatch(argv)
        streams.flush_stdout()
    except KeyboardInterrupt:
        interrupts.tell()
        code = interrupts.exit_code()
    except PonderError as exc:
        if verbose:
            _print_traceback()
        code = _fail(str(exc), exc.exit_code)
    except OSError as exc:  # the last guard: a path the system refuses is one line, never a traceback
        if verbose:
            _print_traceback()
        code = _fail(_os_message(exc), EXIT_USAGE if exc.errno == errno.ENAMETOOLONG else EXIT_FAILURE)
    if code == EXIT_INTERRUPTED:
        if interrupts.untold():  # typer made a KeyboardInterrupt no command caught exit 130 silently
            interrupts.tell()
        code = interrupts.exit_code()  # 143 when it was SIGTERM
    sys.exit(code if isinstance(code, int) else 0)


def _print_traceback() -> None:
    """The traceback of the error being handled (`-v`), made visible: its messages carry paths and text."""
    import traceback

    from ponder.cli.safe import visible

    sys.stderr.write(visible(traceback.format_exc()))


def _os_message(exc: OSError) -> str:
    """An OSError no command caught, as one line: what the system said, and the path it said it of."""
    name = f": {exc.filename}" if exc.filename is not None else ""
    return f"{exc.strerror or exc}{name}"


def _dispatch(argv: list[str] | None) -> int | None:
    """Run the app; usage errors, exits and aborts become exit codes (PonderError escapes)."""
    usage_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
    try:
        return app(args=argv, prog_name="ponder", standalone_mode=False)
    except usage_error as exc:  # type: ignore[misc]
        return _fail(exc.format_message().replace("\n", " "), EXIT_USAGE)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return _fail("interrupted", EXIT_INTERRUPTED)
