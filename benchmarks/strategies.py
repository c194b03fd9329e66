"""Benchmark: the inference strategies on GSM8K problems, at several token budgets.

Every configuration runs on the same loaded model, problem by problem (all configurations of
one problem side by side), so machine noise hits them alike. The baseline is the bare greedy
chain (no review); `chain` is the default strategy (reviewed chain); the search strategies
(vote, best-of-n, beam, mcts) each get the same completion-token budget per question.

    python benchmarks/strategies.py [--start 100] [--limit 10] [--budgets 1500] [--model default]
    python benchmarks/strategies.py --summarize   # rebuild the summary from the results so far

Writes, under benchmarks/results/strategies/: results.jsonl (one line per problem and
configuration, appended as it goes, resumable), runs.json (the date, command, model and
machine of every run that added to it), summary.json and summary.md (those runs, accuracy with Wilson 95% intervals, tokens and seconds per configuration)
and accuracy_vs_tokens.png. Correctness is judged after each run against the reference;
no strategy ever sees it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ponder.agent.settings import Budget, ChainConfig, RunConfig
from ponder.agent.strategies import STRATEGIES
from ponder.batch.metrics import wilson_interval
from ponder.llm.llama import LoadOptions
from ponder.llm.loader import load_backend
from ponder.machine import machine_info
from ponder.tools.answers import equivalent
from ponder.trace.events import RunFinished

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arguments  # noqa: E402

HERE = Path(__file__).parent
DATA = HERE.parent.parent / "shared" / "data" / "gsm8k_train_sample200.jsonl"
OUT = HERE / "results" / "strategies"
SEARCH = ("vote", "best-of-n", "beam", "mcts")
ROLLOUTS = 16  # samples/rollouts allowed: high, so the token budget is what binds


@dataclass(frozen=True)
class Setup:
    """One configuration: a label, a strategy and its settings."""

    label: str
    strategy: str
    config: RunConfig
    budget: int | None = None
    notes: dict[str, object] = field(default_factory=dict)


def setups(budgets: list[int], seed: int) -> list[Setup]:
    """The configurations compared: the greedy chain, the default strategy, and every search
    strategy at every budget."""
    chain = ChainConfig(seed=seed)
    found = [
        Setup("greedy chain", "chain", RunConfig(chain=chain, review=False, rounds=1)),
        Setup("chain (default)", "chain", RunConfig(chain=chain)),
    ]
    for budget in budgets:
        for name in SEARCH:
            config = RunConfig(chain=chain, samples=ROLLOUTS, budget=Budget(tokens=budget))
            found.append(Setup(f"{name} @{budget}", name, config, budget))
    return found


def run_one(backend, setup: Setup, problem: dict) -> dict:  # type: ignore[no-untyped-def]
    """Run one configuration on one problem; return its result record."""
    start = time.monotonic()
    finished = None
    for event in STRATEGIES[setup.strategy](backend, problem["question"], setup.config, run_id="bench",
                                            model=backend.name):
        if isinstance(event, RunFinished):
            finished = event
    answer = finished.answer if finished else None
    usage = finished.usage if finished else {}
    return {
        "id": problem["id"], "setup": setup.label, "strategy": setup.strategy, "budget": setup.budget,
        "answer": answer, "reference": problem["answer"],
        "correct": bool(answer) and equivalent(answer, problem["answer"]),
        "completion_tokens": usage.get("completion_tokens", 0),
        "prompt_tokens_evaluated": usage.get("prompt_tokens_evaluated", 0),
        "search_tree_tokens": usage.get("search_tree_tokens"),
        "seconds": round(time.monotonic() - start, 2),
    }


def summarize(records: list[dict], order: list[str]) -> dict[str, dict]:
    """Accuracy (Wilson 95%), mean tokens and seconds per configuration. Configurations that
    ran every problem are compared over the same problems; one that ran fewer (a run stopped
    early) is reported over its own problems and marked partial."""
    by_setup: dict[str, dict[str, dict]] = {}
    for r in records:
        by_setup.setdefault(r["setup"], {})[r["id"]] = r
    labels = [label for label in order if label in by_setup]
    everything = set().union(*(set(by_setup[label]) for label in labels)) if labels else set()
    table = {}
    for label in labels:
        partial = set(by_setup[label]) != everything
        rows = [by_setup[label][i] for i in sorted(by_setup[label])]
        table[label] = _row(rows) | {"partial": partial}
    return table


def _row(rows: list[dict]) -> dict:
    n, correct = len(rows), sum(r["correct"] for r in rows)
    low, high = wilson_interval(correct, n)
    return {
        "questions": n, "correct": correct, "accuracy": round(correct / n, 4) if n else 0.0,
        "ci95": [round(low, 4), round(high, 4)],
        "mean_completion_tokens": round(sum(r["completion_tokens"] for r in rows) / n, 1) if n else 0.0,
        "mean_prompt_tokens_evaluated": round(sum(r["prompt_tokens_evaluated"] for r in rows) / n, 1) if n else 0.0,
        "mean_search_tree_tokens": _mean([r["search_tree_tokens"] for r in rows if r.get("search_tree_tokens")]),
        "mean_seconds": round(sum(r["seconds"] for r in rows) / n, 1) if n else 0.0,
        "budget": rows[0]["budget"] if rows else None,
        "problems": [r["id"] for r in rows],
    }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def write_summary(records: list[dict], order: list[str], meta: dict) -> None:
    """summary.json, summary.md and the plot, each written whole and then renamed into place."""
    table = summarize(records, order)
    report = {**meta, "configurations": table}
    _atomic(OUT / "summary.json", json.dumps(report, indent=2) + "\n")
    _atomic(OUT / "summary.md", _markdown(report))
    _plot(table, OUT / "accuracy_vs_tokens.png")


def _markdown(report: dict) -> str:
    lines = [
        "# Strategies on GSM8K (ponder benchmark)", "",
        f"- problems: {report['problems']}, seed {report['seed']}, budgets {report['budgets']} completion tokens",
        f"- summarized: {report['summarized']}", "- runs (resumed runs append to the same results):",
        *[f"  - {r['date']}: `{r['command']}` on {r['model']}, {r['machine']}" for r in report["runs"]], "",
        "| configuration | correct | accuracy | 95% CI | completion tokens | prompt tokens evaluated "
        "| unique tree tokens | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, s in report["configurations"].items():
        name = f"{label} (partial: first {s['questions']})" if s.get("partial") else label
        tree = f"{s['mean_search_tree_tokens']:.0f}" if s.get("mean_search_tree_tokens") else "–"
        lines.append(f"| {name} | {s['correct']}/{s['questions']} | {s['accuracy']:.0%} | "
                     f"{s['ci95'][0]:.0%}–{s['ci95'][1]:.0%} | {s['mean_completion_tokens']:.0f} | "
                     f"{s['mean_prompt_tokens_evaluated']:.0f} | {tree} | {s['mean_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def _plot(table: dict[str, dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    families: dict[str, list[tuple[str, dict]]] = {}
    for label, s in table.items():
        families.setdefault(label.split(" @")[0], []).append((label, s))
    for family, points in families.items():
        points.sort(key=lambda p: p[1]["mean_completion_tokens"])
        xs = [s["mean_completion_tokens"] for _, s in points]
        ys = [s["accuracy"] for _, s in points]
        low = [s["accuracy"] - s["ci95"][0] for _, s in points]
        high = [s["ci95"][1] - s["accuracy"] for _, s in points]
        n = "/".join(str(s["questions"]) for _, s in points)
        axes.errorbar(xs, ys, yerr=[low, high], fmt="o-", capsize=4, alpha=0.8, label=f"{family} (n={n})")
    axes.set_xlabel("completion tokens per question")
    axes.set_ylabel("accuracy (95% Wilson CI)")
    axes.set_ylim(0, 1)
    axes.set_xlim(left=0)
    axes.set_title("ponder strategies on GSM8K train sample (held-out problems)")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize=7)  # vote and best-of-n share their samples, so their points may coincide
    figure.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    figure.savefig(tmp, format="png")
    plt.close(figure)
    tmp.replace(path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _load(path: Path) -> list[dict]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn last line from an interrupted run
    return records


def _budgets(text: str) -> list[int]:
    """Comma-separated completion-token budgets: whole numbers of at least 1, one at least."""
    budgets = [arguments.positive(part.strip()) for part in text.split(",") if part.strip()]
    if not budgets:
        raise argparse.ArgumentTypeError(f"{text!r} names no budget")
    return budgets


def main() -> int:
    """Run (or resume) the benchmark and write its summary."""
    parser = arguments.parser(__doc__)
    parser.add_argument("--data", type=arguments.existing_file, default=DATA)
    parser.add_argument("--start", type=arguments.offset, default=100, help="first problem (0-based); 100+ were never looked at")
    parser.add_argument("--limit", type=arguments.positive, default=10)
    parser.add_argument("--budgets", type=_budgets, default=[1500], help="comma-separated completion-token budgets per question")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="default")
    parser.add_argument("--summarize", action="store_true", help="only rebuild the summary from results.jsonl")
    args = parser.parse_args()
    budgets = args.budgets
    order = [s.label for s in setups(budgets, args.seed)]
    OUT.mkdir(parents=True, exist_ok=True)
    results = OUT / "results.jsonl"
    problems = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    problems = problems[args.start: args.start + args.limit]
    runs_file = OUT / "runs.json"
    runs = json.loads(runs_file.read_text(encoding="utf-8")) if runs_file.exists() else []
    meta = {
        "summarized": _now(), "runs": runs, "seed": args.seed, "budgets": budgets,
        "problems": f"{args.data.name} [{args.start}:{args.start + len(problems)}]",
    }
    if args.summarize:
        write_summary(_load(results), order, meta)
        return 0
    backend = load_backend(args.model, LoadOptions(n_ctx=4096, seed=args.seed))
    runs.append({"date": _now(), "command": "python " + " ".join(sys.argv), "model": backend.name,
                 "machine": machine_info()})
    _atomic(runs_file, json.dumps(runs, indent=2) + "\n")
    done = {(r["id"], r["setup"]) for r in _load(results)}
    with open(results, "a", encoding="utf-8") as out:
        for problem in problems:
            for setup in setups(budgets, args.seed):
                if (problem["id"], setup.label) in done:
                    continue
                record = run_one(backend, setup, problem)
                out.write(json.dumps(record) + "\n")
                out.flush()
                print(f"{problem['id']} {setup.label}: {record['answer']} "
                      f"({'ok' if record['correct'] else 'wrong'}, {record['completion_tokens']} tok, "
                      f"{record['seconds']} s)", flush=True)
                meta["summarized"] = _now()
            write_summary(_load(results), order, meta)
    return 0


if __name__ == "__main__":
    arguments.run(main)
