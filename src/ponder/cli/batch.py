"""`ponder batch` and `ponder eval`: many questions, one loaded model, resumable results.

Rules that must hold:
- User errors (unreadable input, an existing results file without --resume, an unknown
  strategy) fail with exit 2 before the model loads.
- Results are written one whole line per item as it finishes; Ctrl-C stops at an item
  boundary (sandbox children die with their run) and exits 130; `--resume` finishes the rest.
- Exit 4 when any item of the file failed, else 0. Progress is animated only on a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ponder.agent.settings import RunConfig
from ponder.batch.items import BadLine, Entry, Item, read_items
from ponder.batch.results import ResultsFile
from ponder.cli.ask import load_model, trace_directory
from ponder.cli.options import Options
from ponder.errors import EXIT_BATCH_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError


@dataclass(frozen=True)
class BatchJob:
    """What one batch (or one strategy of an eval) runs."""

    entries: list[Entry]
    results: ResultsFile
    strategy: str
    label: str


def read_entries(source: str, limit: int | None = None) -> list[Entry]:
    """Question entries from a file or '-' (stdin); the known answer, if any, from 'answer'."""
    try:
        if source == "-":
            entries = read_items(sys.stdin.buffer, reference_key="answer")
        else:
            with open(source, "rb") as f:
                entries = read_items(f, reference_key="answer")
    except IsADirectoryError:
        raise UsageError(f"{source} is a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from None
    return entries[:limit] if limit is not None else entries


def run_batch(source: str, out: Path | None, resume: bool, options: Options) -> int:
    """`ponder batch`: answer every question of a file."""
    entries = read_entries(source)
    results = ResultsFile(out, resume)
    try:
        code = run_jobs([BatchJob(entries, results, options.strategy, options.strategy)], options)
    finally:
        results.close()
    return code


def run_jobs(jobs: list[BatchJob], options: Options) -> int:
    """Run batch jobs on one loaded model; return the exit code."""
    trace_dir = trace_directory(options)
    pending = [(job, e) for job in jobs for e in job.entries if e.id not in job.results.done]
    backend = load_model(options) if any(isinstance(e, Item) for _, e in pending) else None
    from ponder.cli.progress import BatchProgress

    progress = BatchProgress(len(pending))
    try:
        for job, entry in pending:
            record = _answer(backend, entry, job.strategy, options, trace_dir)
            job.results.write(record)
            progress.advance(record)
    except KeyboardInterrupt:
        progress.close()
        done = sum(len(j.results.done) for j in jobs)
        sys.stderr.write(f"ponder: interrupted with {done} results written; rerun with --resume to finish\n")
        return EXIT_INTERRUPTED
    progress.close()
    failed = any(status != "ok" for job in jobs for status in job.results.done.values())
    return EXIT_BATCH_FAILED if failed else EXIT_OK


def _answer(backend, entry: Entry, strategy: str, options: Options, trace_dir: Path | None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from ponder.batch.runner import bad_line_record, run_item

    if isinstance(entry, BadLine):
        return bad_line_record(entry)
    return run_item(backend, entry, options.run, strategy, getattr(backend, "name", "model"), trace_dir)


def run_eval(dataset: str, limit: int | None, out_dir: Path, resume: bool, options: Options) -> int:
    """`ponder eval`: accuracy and cost of each strategy on a dataset with known answers."""
    strategies = options.strategies
    entries = read_entries(dataset, limit)
    graded = [e for e in entries if isinstance(e, Item) and e.reference is not None]
    if not graded:
        raise UsageError(f"{dataset} has no items with both 'question' and 'answer'")
    jobs = [BatchJob(entries, ResultsFile(out_dir / f"{name}.jsonl", resume), name, name) for name in strategies]
    try:
        code = run_jobs(jobs, options)
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
    from ponder.machine import machine_info

    ids = {e.id for e in entries}
    report: dict[str, Any] = {
        "dataset": dataset,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["ponder", *sys.argv[1:]]),
        "model": options.model or os.environ.get("PONDER_MODEL") or "default",
        "machine": machine_info(),
        "settings": settings_record(options.run),
        "strategies": {},
    }
    for job in jobs:
        assert job.results.path is not None
        records = [r for r in _records(job.results.path) if r.get("id") in ids]
        report["strategies"][job.strategy] = summarize(records)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    from ponder.cli.plot import plot_accuracy

    plot = plot_accuracy(report, out_dir / "accuracy_vs_tokens.png")
    report["plot"] = str(plot) if plot else None
    return report


def _records(path: Path) -> list[dict[str, Any]]:
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def settings_record(config: RunConfig) -> dict[str, Any]:
    """The run settings an eval report records (JSON-ready)."""
    chain, budget = config.chain, config.budget
    return {"max_tokens": chain.max_tokens, "temperature": chain.temperature, "seed": chain.seed,
            "sandbox": chain.sandbox, "samples": config.samples, "rounds": config.rounds, "review": config.review,
            "budget_tokens": budget.tokens, "budget_seconds": budget.seconds, "scorers": list(config.scorers),
            "rule": config.rule, "weighting": config.weighting, "width": config.width, "expansions": config.expansions}
