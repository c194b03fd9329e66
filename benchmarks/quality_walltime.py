"""Benchmark: the wall time of the default strategy as a ratio to the plain chain of thought,
measured side by side in one process on one loaded model (the quality pool cannot say it: it
decodes neighbouring items together).

For each item of the quality benchmark's fixed shuffle of GSM8K *training* problems, in
turn: the plain chain of thought (route 0 of `agent/engine/routes.py`, greedy: the raw model
with its makers' prompt) and the live `cascade` (`--samples`, `--parallel`), the order
alternating from item to item so that a drift in the machine's speed falls on both. Writes
per-item seconds and completion tokens, the ratio of total seconds and the median per-item
ratio, with machine, date, commit and command, to results/quality/NAME.{json,md} (`--name`,
default walltime; the out-of-sample run is walltime_from150).

    python benchmarks/quality_walltime.py --items 12 --samples 6
    python benchmarks/quality_walltime.py --items 150 --resume   # goes on from the rows written
    python benchmarks/quality_walltime.py --report               # rewrites the results from the rows
    python benchmarks/quality_walltime.py --offset 150 --items 150 --name walltime_from150 --resume

The results are rewritten (whole, through a temporary file) after every item, so a run
stopped by hand loses at most the item in progress and `--resume` continues it. The live
answers are set beside the quality pool's replay of the same items (the cascade's accuracy
figures rest on that replay). Never run on GSM8K test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import arguments  # noqa: E402
from quality import RESULTS, _commit, _drain, items, paired, read_pool, replay_cascade  # noqa: E402


def plain_chain(backend: Any, catalogue: Any, question: str) -> tuple[str, int, list[str]]:
    """The plain chain of thought's answer and completion tokens (no routes to log)."""
    from ponder.agent.engine.calls import drive
    from ponder.agent.engine.ids import SpanIds
    from ponder.agent.engine.routes import REASON, RouteCall, run_route
    from ponder.agent.settings import ChainConfig

    at = RouteCall(backend, catalogue, question, "plain", "p", SpanIds())
    result = list(_drain(drive(backend, run_route(at, REASON, ChainConfig(temperature=0.0)))))[-1]
    return result.answer.normalized, result.completion_tokens, []


def cascade(backend: Any, question: str, samples: int, parallel: int) -> tuple[str, int, list[str]]:
    """The live cascade's answer, completion tokens, and each route's answer in order."""
    from ponder.agent.settings import RunConfig
    from ponder.agent.strategies import STRATEGIES
    from ponder.trace.events import CandidateScored, RunFinished

    events = list(STRATEGIES["cascade"](backend, question, RunConfig(samples=samples, parallel=parallel),
                                        run_id="walltime", model="default"))
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    routes = [e.answer for e in events if isinstance(e, CandidateScored)]
    return finished.answer or "", int(finished.usage["completion_tokens"]), routes


def timed(run: Any) -> tuple[str, int, list[str], float]:
    """What `run` returns (answer, tokens, routes), with its wall seconds appended."""
    began = time.perf_counter()
    answer, tokens, routes = run()
    return answer, tokens, routes, round(time.perf_counter() - began, 2)


def main() -> None:
    parser = arguments.parser(__doc__)
    parser.add_argument("--items", type=arguments.positive, default=12)
    parser.add_argument("--offset", type=arguments.offset, default=0)
    parser.add_argument("--samples", type=arguments.positive, default=6)
    parser.add_argument("--parallel", type=arguments.positive, default=4)
    parser.add_argument("--resume", action="store_true", help="keep the rows of the results file and go on")
    parser.add_argument("--name", type=arguments.plain_name, default="walltime",
                        help="the results' file name: results/quality/NAME.{json,md} (another run, another name)")
    parser.add_argument("--report", action="store_true",
                        help="rewrite walltime.{json,md} from the rows written, measuring nothing")
    args = parser.parse_args()
    if args.report:
        return rewrite(args.name)
    rows = earlier_rows(args)
    from ponder.batch.metrics import gsm8k_reference
    from ponder.llm.llama import LlamaBackend, LoadOptions
    from ponder.llm.registry import resolve_model
    from ponder.machine import machine_info
    from ponder.thought_factors.catalogue import load_catalogue
    from ponder.tools.answers import equivalent

    backend = LlamaBackend(resolve_model("default"), LoadOptions(n_ctx=4096, sequences=max(2, args.parallel)))
    catalogue = load_catalogue()
    done = {row["id"] for row in rows}
    for k, item in enumerate(items(args.items, args.offset)):
        if item["id"] in done:
            continue
        question, reference = item["question"], gsm8k_reference(item["answer"])
        runs = {"plain": lambda: plain_chain(backend, catalogue, question),
                "cascade": lambda: cascade(backend, question, args.samples, args.parallel)}
        order = ["plain", "cascade"] if k % 2 == 0 else ["cascade", "plain"]
        row: dict[str, Any] = {"id": item["id"]}
        for name in order:
            backend.forget()  # neither run starts from the other's cached prompt
            answer, tokens, routes, seconds = timed(runs[name])
            row[name] = {"answer": answer, "correct": bool(answer) and equivalent(answer, reference),
                         "completion_tokens": tokens, "seconds": seconds}
            if routes:  # the cascade's routes, in order, to set beside the pool's
                row[name]["routes"] = [{"answer": a, "correct": bool(a) and equivalent(a, reference)}
                                       for a in routes]
        rows.append(row)
        print(f"{k + 1}/{args.items} {item['id']}: plain {row['plain']['seconds']}s, "
              f"cascade {row['cascade']['seconds']}s", file=sys.stderr)
        write(rows, args, machine_info())
    if rows:
        print((RESULTS / f"{args.name}.md").read_text())


def rewrite(name: str) -> None:
    """Rewrite the results from the rows written, keeping the measurement's date, commit,
    machine and command (only the summaries derived from the rows are recomputed)."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        sys.exit(f"{path} does not exist: nothing to report")
    earlier = json.loads(path.read_text())
    args = argparse.Namespace(samples=earlier["samples"], parallel=earlier["parallel"], name=name)
    write(earlier["rows"], args, earlier["machine"], recorded=earlier)
    print((RESULTS / f"{name}.md").read_text())


def earlier_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The rows an earlier run wrote, when resuming the same configuration; a fresh run never
    overwrites them (it stops with one line instead)."""
    path = RESULTS / f"{args.name}.json"
    if not path.exists():
        return []
    earlier = json.loads(path.read_text())
    if not args.resume:
        sys.exit(f"{path} holds {len(earlier['rows'])} items: --resume to go on, or move it away to start afresh")
    if (earlier["samples"], earlier["parallel"]) != (args.samples, args.parallel):
        sys.exit(f"{path.name} was written with --samples {earlier['samples']} --parallel {earlier['parallel']}")
    return earlier["rows"]


def replayed_rows(rows: list[dict[str, Any]], samples: int, parallel: int) -> dict[str, tuple[bool, bool]]:
    """Item by item, whether the quality pool's replay answers it right: (plain chain, cascade);
    items the pool cannot replay are left out."""
    from ponder.tools.answers import equivalent

    pool = read_pool(RESULTS / "pool.jsonl")
    right = {}
    for row in rows:
        routes = {n: r for (i, n), r in pool.items() if i == row["id"]}
        replay = replay_cascade(routes, samples, parallel) if routes else None
        if replay is not None:
            right[row["id"]] = (bool(routes[0]["correct"]),
                                bool(replay[0]) and equivalent(replay[0], routes[0]["reference"]))
    return right


def replayed(rows: list[dict[str, Any]], samples: int, parallel: int) -> dict[str, int]:
    """How many of these items the quality pool's replay answers right (cascade, plain chain)."""
    right = replayed_rows(rows, samples, parallel).values()
    return {"plain": sum(p for p, _ in right), "cascade": sum(c for _, c in right), "items": len(right)}


def routes_beside_pool(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The live cascade's routes set beside the pool's same routes (same item, same n): how
    many each answered right, greedy (n < 2) and sampled (n >= 2) apart, with the paired
    split (live right where the pool's was wrong, and the reverse) and its McNemar p."""
    pool = read_pool(RESULTS / "pool.jsonl")
    pairs: dict[str, list[tuple[bool, bool]]] = {"greedy": [], "sampled": []}
    for row in rows:
        for n, live in enumerate(row["cascade"].get("routes", [])):
            if (row["id"], n) in pool:
                pairs["greedy" if n < 2 else "sampled"].append((live["correct"], bool(pool[(row["id"], n)]["correct"])))
    return {kind: {"routes": len(p), "live": sum(a for a, _ in p), "pool": sum(b for _, b in p),
                   **paired([a for a, _ in p], [b for _, b in p])} for kind, p in pairs.items()}


def paired_splits(rows: list[dict[str, Any]], samples: int, parallel: int) -> dict[str, dict[str, Any]]:
    """Item by item: the live cascade against the live plain chain, and against the pool's
    replay of the same items (won / lost and McNemar p)."""
    replay = replayed_rows(rows, samples, parallel)
    live = [r["cascade"]["correct"] for r in rows]
    return {"cascade_vs_plain": paired(live, [r["plain"]["correct"] for r in rows]),
            "cascade_vs_replay": paired([ok for ok, r in zip(live, rows) if r["id"] in replay],
                                        [replay[r["id"]][1] for r in rows if r["id"] in replay])}


def rule_on_live_routes(rows: list[dict[str, Any]], samples: int, parallel: int) -> dict[str, int]:
    """Items with their routes logged where the replay's rule, applied to the live routes,
    reads as many routes and answers as the live cascade did (a check that the replay models
    the strategy, so a gap between them lies in the routes, not the rule)."""
    from ponder.tools.answers import normalize_answer

    logged = [r for r in rows if r["cascade"].get("routes")]
    same = 0
    for row in logged:
        routes = row["cascade"]["routes"]
        replay = replay_cascade(dict(enumerate(routes)), samples, parallel)
        live = normalize_answer(row["cascade"]["answer"]).normalized if row["cascade"]["answer"] else ""
        same += replay is not None and replay[0] == live and len(replay[1]) == len(routes)
    return {"items": len(logged), "same": same}


def by_routes_read(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Items with their routes logged, split by whether the cascade ended after the two greedy
    routes or sampled on: items, right, and the ratio of their seconds to the plain chain's."""
    found = {}
    for kind, keep in (("two_routes", lambda n: n <= 2), ("sampled", lambda n: n > 2)):
        group = [r for r in rows if "routes" in r["cascade"] and keep(len(r["cascade"]["routes"]))]
        seconds = {name: sum(r[name]["seconds"] for r in group) for name in ("plain", "cascade")}
        found[kind] = {"items": len(group), "correct": sum(r["cascade"]["correct"] for r in group),
                       "seconds_ratio": round(seconds["cascade"] / max(seconds["plain"], 1e-9), 2)}
    return found


def write(rows: list[dict[str, Any]], args: argparse.Namespace, machine: dict[str, Any],
          recorded: dict[str, Any] | None = None) -> None:
    """Write walltime.{json,md} whole; `recorded`: an earlier result whose date, commit and
    command are kept (a rewrite measures nothing)."""
    total = {name: round(sum(r[name]["seconds"] for r in rows), 1) for name in ("plain", "cascade")}
    tokens = {name: sum(r[name]["completion_tokens"] for r in rows) for name in ("plain", "cascade")}
    result = {
        "benchmark": "quality_walltime",
        "date": recorded["date"] if recorded else datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": recorded["commit"] if recorded else _commit(), "machine": machine, "model": "default",
        "command": recorded["command"] if recorded else " ".join([Path(sys.executable).name, *sys.argv]),
        "items": len(rows), "samples": args.samples, "parallel": args.parallel,
        "seconds": total, "completion_tokens": tokens,
        "seconds_ratio": round(total["cascade"] / max(total["plain"], 1e-9), 2),
        "median_item_seconds_ratio": round(statistics.median(r["cascade"]["seconds"] / r["plain"]["seconds"]
                                                              for r in rows), 2),
        "tokens_ratio": round(tokens["cascade"] / max(tokens["plain"], 1), 2),
        "correct": {name: sum(r[name]["correct"] for r in rows) for name in ("plain", "cascade")},
        "pool_replay_correct": replayed(rows, args.samples, args.parallel),
        "routes_beside_pool": routes_beside_pool(rows),
        "paired": paired_splits(rows, args.samples, args.parallel),
        "by_routes_read": by_routes_read(rows),
        "rule_on_live_routes": rule_on_live_routes(rows, args.samples, args.parallel),
        "rows": rows,
    }
    _replace(RESULTS / f"{args.name}.json", json.dumps(result, indent=2) + "\n")
    replay, split = result["pool_replay_correct"], result["paired"]
    lines = [
        "# Wall time: the cascade against the plain chain of thought, side by side", "",
        f"- date: {result['date']}; commit: {result['commit']}; machine: {machine.get('cpu', '')}, "
        f"{machine.get('cores', '')} cores; model: default",
        f"- command: `{result['command']}`",
        f"- {len(rows)} items of the quality benchmark's shuffle, one process, order alternating by item", "",
        "| | plain chain of thought | cascade | ratio |", "|---|---|---|---|",
        f"| wall seconds, all items | {total['plain']} | {total['cascade']} | {result['seconds_ratio']}× |",
        f"| completion tokens, all items | {tokens['plain']} | {tokens['cascade']} | {result['tokens_ratio']}× |",
        f"| median per-item seconds ratio | | | {result['median_item_seconds_ratio']}× |",
        f"| correct | {result['correct']['plain']}/{len(rows)} | {result['correct']['cascade']}/{len(rows)} | |",
        f"| correct in the quality pool's replay of the same items | {replay['plain']}/{replay['items']} | "
        f"{replay['cascade']}/{replay['items']} | |", "",
        f"Item by item, the live cascade against the live plain chain: {split['cascade_vs_plain']['wins']} won / "
        f"{split['cascade_vs_plain']['losses']} lost (McNemar p = {split['cascade_vs_plain']['p']}); against the "
        f"pool's replay: {split['cascade_vs_replay']['wins']} won / {split['cascade_vs_replay']['losses']} lost "
        f"(p = {split['cascade_vs_replay']['p']}).", "",
        f"The replay's rule applied to the live routes reads the same routes and gives the live answer on "
        f"{result['rule_on_live_routes']['same']} of the {result['rule_on_live_routes']['items']} items with "
        f"their routes logged.", "",
        "Items with their routes logged, by how many routes the cascade read:", "",
        "| items | n | cascade right | seconds ratio to the plain chain |", "|---|---|---|---|",
        *[f"| {kind.replace('_', ' ')} | {c['items']} | {c['correct']} | {c['seconds_ratio']}× |"
          for kind, c in result["by_routes_read"].items()], "",
        "The cascade's routes beside the pool's same routes (items written with their routes):", "",
        "| routes | n | right live | right in the pool | live only / pool only | McNemar p |", "|---|---|---|---|---|---|",
        *[f"| {kind} | {c['routes']} | {c['live']} | {c['pool']} | {c['wins']} / {c['losses']} | {c['p']} |"
          for kind, c in result["routes_beside_pool"].items()],
        "",
        "| item | plain s | plain tokens | cascade s | cascade tokens |", "|---|---|---|---|---|",
        *[f"| {r['id']} | {r['plain']['seconds']} | {r['plain']['completion_tokens']} | {r['cascade']['seconds']} | "
          f"{r['cascade']['completion_tokens']} |" for r in rows],
    ]
    _replace(RESULTS / f"{args.name}.md", "\n".join(lines) + "\n")


def _replace(path: Path, text: str) -> None:
    """Write the whole file or nothing: a temporary file beside it, then a rename."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


if __name__ == "__main__":
    arguments.run(main)
