"""`ponder batch` and `ponder eval`: many questions, one loaded model, resumable results.

Rules that must hold:
- User errors (unreadable input, an existing results file without --resume, an unknown
  strategy) fail with exit 2 before the model loads.
- The question file is a regular file or '-' (stdin, a pipe by design): a FIFO, device or
  directory is refused before any read (`ponder.inputs`); `--format` forces text or JSONL.
- The results file is never the input file (exit 2); resuming trusts only whole result
  records and moves every other line to OUT.rejected, saying so in one line on stderr.
- Results are written one whole line per item as it finishes; Ctrl-C or SIGTERM stops at an
  item boundary (the item's trace is closed as `interrupted`, sandbox children die with
  their run) and exits 130 (143 for SIGTERM); `--resume` finishes the rest.
- A results file, trace or stdout that cannot be written stops the run: one line, exit 1.
- Exit 4 when any item of the file failed, else 0. Progress is animated only on a terminal.
- `--concurrency K` keeps K items in flight (`batch.pool`), only against a server (or the
  fake): with an in-process model K > 1 is exit 2 before anything loads, since one loaded
  model answers one item at a time (`--parallel` decodes an item's chains side by side).
  Results are written as items complete (whole lines, no id twice, resume unchanged); on
  Ctrl-C or SIGTERM the items in flight are closed as `interrupted` and not written.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ContextManager, Iterator

from ponder import interrupts
from ponder.agent.settings import RunConfig
from ponder.batch.items import BadLine, Entry, Item, read_items
from ponder.batch.results import ResultsFile, check_results, read_results, rejected_path
from ponder.cli.ask import load_model, trace_directory
from ponder.cli.options import Options
from ponder.errors import EXIT_BATCH_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError
from ponder.inputs import is_same_file, open_regular, stdin_bytes, well_formed


@dataclass(frozen=True)
class BatchJob:
    """What one batch (or one strategy of an eval) runs."""

    entries: list[Entry]
    results: ResultsFile
    strategy: str
    label: str

REPORT_FILE = "report.json"  # what eval writes into --out-dir, beside each STRATEGY.jsonl
PLOT_FILE = "accuracy_vs_tokens.png"


def read_entries(source: str, limit: int | None = None, fmt: str = "auto") -> list[Entry]:
    """Question entries in `fmt` from a regular file or '-' (stdin); the known answer, if any, from 'answer'."""
    what = "stdin" if source == "-" else f"question file {source}"
    try:
        with _open_questions(source) as stream:
            entries = read_items(stream, reference_key="answer", fmt=fmt, what=what)
    except OSError as exc:
        raise UsageError(f"cannot read {what}: {exc.strerror or exc}") from None
    return entries[:limit] if limit is not None else entries


def _open_questions(source: str) -> ContextManager[BinaryIO]:
    """stdin for '-' (left open), else the regular file (a FIFO, device or directory is refused)."""
    if source != "-":
        return open_regular(source, "question file")
    stream = stdin_bytes()
    if stream is None:
        raise UsageError("cannot read the questions: stdin is closed")
    return nullcontext(stream)


def run_batch(source: str, out: Path | None, resume: bool, options: Options, fmt: str = "auto",
              concurrency: int = 1) -> int:
    """`ponder batch`: answer every question of a file."""
    check_concurrency(concurrency, options)
    refuse_input_as_output(source, out if out is not None else STDOUT)
    entries = read_entries(source, fmt=fmt)
    results = open_results(out, resume, entries)
    try:
        code = run_jobs([BatchJob(entries, results, options.strategy, options.strategy)], options, concurrency)
    except BaseException:
        results.abandon()
        raise
    finally:
        results.close()
    return code


def check_concurrency(concurrency: int, options: Options) -> None:
    """More than one item in flight needs a server (or the fake); else a UsageError (exit 2)."""
    if concurrency <= 1:
        return
    from ponder.llm.loader import model_spec
    from ponder.llm.user_models import lookup

    spec = model_spec(options.model, server=bool(options.load.base_url))
    registered = lookup(spec)
    if spec == "fake" or spec.startswith("fake:") or (registered.path is None if registered else options.load.base_url):
        return
    raise UsageError(f"--concurrency {concurrency} needs a server (--base-url): an in-process model answers one "
                     "item at a time (--parallel decodes the chains of an item side by side)")


def run_jobs(jobs: list[BatchJob], options: Options, concurrency: int = 1) -> int:
    """Run batch jobs on one loaded model, `concurrency` items at once; return the exit code."""
    trace_dir = trace_directory(options)
    pending = [(job, e) for job in jobs for e in job.entries if e.id not in job.results.done]
    backend = load_model(options) if any(isinstance(e, Item) for _, e in pending) else None
    from ponder.cli.progress import BatchProgress

    progress = BatchProgress(len(pending))
    answers = _answers(backend, pending, options, trace_dir, concurrency)
    try:
        for job, record in answers:
            job.results.write(record)
            progress.advance(record)
    except KeyboardInterrupt:
        answers.close()  # the items in flight end as `interrupted`, unwritten
        progress.close()
        done = sum(len(j.results.done) for j in jobs)
        interrupts.tell(f"interrupted with {done} results written; rerun with --resume to finish")
        return EXIT_INTERRUPTED
    finally:
        answers.close()
        progress.close()
    failed = sum(job.results.done.get(e.id, "ok") != "ok" for job in jobs for e in job.entries)
    if failed:
        sys.stderr.write(f'ponder: {failed} item(s) failed: their result records have status "error" and say why\n')
    return EXIT_BATCH_FAILED if failed else EXIT_OK


def _answers(backend, pending: list[tuple[BatchJob, Entry]], options: Options, trace_dir: Path | None,  # type: ignore[no-untyped-def]
             concurrency: int) -> Iterator[tuple[BatchJob, dict[str, Any]]]:
    """Each pending entry's job and record: one after another, or `concurrency` in flight (`batch.pool`)."""
    if concurrency <= 1:
        for job, entry in pending:
            yield job, _answer(backend, entry, job.strategy, options, trace_dir)
        return
    from ponder.batch.pool import Pool

    grace = options.run.chain.code_limits.wall_seconds + 1.0  # a running check is killed within its timeout
    with Pool(concurrency, trace_dir, grace) as pool:
        for (job, _), record in pool.run(pending, lambda task, trace: _answer(backend, task[1], task[0].strategy,
                                                                                options, trace_dir, trace)):
            yield job, record


def _answer(backend, entry: Entry, strategy: str, options: Options, trace_dir: Path | None,  # type: ignore[no-untyped-def]
            trace: Any = None) -> dict[str, Any]:
    from ponder.batch.runner import bad_line_record, run_item

    if isinstance(entry, BadLine):
        return bad_line_record(entry)
    return run_item(backend, entry, options.run, strategy, getattr(backend, "name", "model"), trace_dir, trace)


def run_eval(dataset: str, limit: int | None, out_dir: Path, resume: bool, options: Options,
             fmt: str = "auto", concurrency: int = 1) -> int:
    """`ponder eval`: accuracy and cost of each strategy on a dataset with known answers."""
    check_concurrency(concurrency, options)
    strategies = options.strategies
    entries = read_entries(dataset, limit, fmt)
    graded = [e for e in entries if isinstance(e, Item) and e.reference is not None]
    if not graded:
        raise UsageError(f"{dataset} has no items with both 'question' and 'answer'")
    for output in [*(f"{name}.jsonl" for name in strategies), REPORT_FILE, PLOT_FILE]:
        refuse_input_as_output(dataset, out_dir / output, "--out-dir")
    for output in (REPORT_FILE, PLOT_FILE):  # found before the run, not after every item has run
        if (out_dir / output).is_dir():
            raise UsageError(f"{out_dir / output} is a directory; eval writes its {output} there: choose another --out-dir")
    asked = asked_questions(entries)
    for name in strategies:  # every output checked before any line of any is set aside
        check_results(out_dir / f"{name}.jsonl", resume, asked, "--out-dir")
    jobs: list[BatchJob] = []
    try:
        for name in strategies:
            jobs.append(BatchJob(entries, open_results(out_dir / f"{name}.jsonl", resume, entries, "--out-dir"),
                                 name, name))
        code = run_jobs(jobs, options, concurrency)
    except BaseException:
        for job in jobs:
            job.results.abandon()
        raise
    finally:
        for job in jobs:
            job.results.close()
    if code == EXIT_INTERRUPTED:
        return code
    report = write_report(dataset, entries, jobs, out_dir, options)
    from ponder.cli.progress import print_eval_table

    print_eval_table(report)
    return code


def write_report(dataset: str, entries: list[Entry], jobs: list[BatchJob], out_dir: Path,
                 options: Options) -> dict[str, Any]:
    """Summarise each strategy's results into report.json (and a plot when matplotlib is there)."""
    from datetime import datetime, timezone

    from ponder.batch.metrics import summarize
    from ponder.llm.loader import model_spec
    from ponder.llm.openai_http import without_credentials
    from ponder.machine import machine_info

    ids = {e.id for e in entries}
    report: dict[str, Any] = {
        "dataset": well_formed(dataset),  # a name of bytes that are not UTF-8 is still valid JSON text
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": well_formed(" ".join(["ponder", *map(without_credentials, sys.argv[1:])])),  # no URL's password
        "model": model_spec(options.model, server=bool(options.load.base_url)),
        "machine": machine_info(),
        "settings": settings_record(options.run),
        "strategies": {},
    }
    for job in jobs:
        assert job.results.path is not None
        records = [r for r in read_results(job.results.path) if r.get("id") in ids]
        report["strategies"][job.strategy] = summarize(records)
    write_json_file(out_dir / REPORT_FILE, report)
    from ponder.cli.plot import plot_accuracy

    try:
        plot = plot_accuracy(report, out_dir / PLOT_FILE)
    except OSError as exc:
        from ponder.trace.jsonl import WriteError

        raise WriteError(f"cannot write {out_dir / PLOT_FILE}: {exc.strerror or exc}") from None
    report["plot"] = str(plot) if plot else None
    return report


def write_json_file(path: Path, value: dict[str, Any]) -> None:
    """Write a JSON document whole (through a temporary file), or fail with one line."""
    from ponder.cli.files import write_whole
    from ponder.trace.jsonl import to_json

    write_whole(path, to_json(value, indent=2) + "\n", encoding="ascii")


STDOUT = Path("/dev/stdout")  # where batch writes without -o


def refuse_input_as_output(source: str, out: Path, option: str = "-o") -> None:
    """An output that is the input file (same inode) would grow into it or replace it, and so
    would the file a resume sets lines aside into (OUT.rejected): exit 2. So would stdout
    redirected into the input (`ponder batch q.txt >> q.txt`)."""
    source = "/dev/stdin" if source == "-" else source
    if out == STDOUT:
        if source != "/dev/stdin" and is_same_file(source, out):
            raise UsageError("stdout is the input file; write the results elsewhere (or with -o)")
        return
    if is_same_file(source, out):
        raise UsageError(f"the output {out} is the input file; choose another {option}")
    if is_same_file(source, rejected_path(out)):
        raise UsageError(f"the input is {rejected_path(out)}, where a resume of {out} sets lines aside; "
                         f"choose another {option} or rename the input")


def asked_questions(entries: list[Entry]) -> dict[str, str]:
    """Each item's id and the question it asks (what a results file being resumed must match)."""
    return {e.id: e.question for e in entries if isinstance(e, Item)}


def open_results(out: Path | None, resume: bool, entries: list[Entry], option: str = "-o") -> ResultsFile:
    """Open the results file for `entries` (another input's results are refused); when
    resuming, say on stderr how many lines were set aside."""
    results = ResultsFile(out, resume, asked_questions(entries), option)
    if results.rejected:
        from ponder.cli.safe import one_line

        sys.stderr.write(one_line(f"ponder: warning: {results.rejected} line(s) of {out} were not whole result records; "
                                  f"moved to {results.rejected_path}; items without a whole record run again") + "\n")
    return results


def settings_record(config: RunConfig) -> dict[str, Any]:
    """The run settings an eval report records (JSON-ready)."""
    chain, budget = config.chain, config.budget
    return {"max_tokens": chain.max_tokens, "temperature": chain.temperature, "seed": chain.seed,
            "sandbox": chain.sandbox, "samples": config.samples, "rounds": config.rounds, "review": config.review,
            "budget_tokens": budget.tokens, "budget_seconds": budget.seconds, "scorers": list(config.scorers),
            "rule": config.rule, "weighting": config.weighting, "width": config.width, "expansions": config.expansions}
