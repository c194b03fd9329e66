"""Benchmark (offline, on a quality pool): which routes should the cascade sample after its
first wave disagrees? Today it alternates (chain, program, chain, ...). On the items where the
greedy routes disagree a sampled program is right nearly as often as a sampled chain (41%
against 44% of the main pool's 129 such items) at a third of its tokens (about 124 against
340), so more programs for the same tokens might vote better, or their errors might agree; and
the other way, chains only after the first wave.

`pool_programs.jsonl` is the main pool's routes 0..7 with four more sampled programs (routes 9,
11, 13, and 7 where the main pool lacked it) and two more sampled chains (8, and 6 where it
lacked it) on every item whose greedy routes disagree:

    grep -E '"n": [0-7],' benchmarks/results/quality/pool.jsonl > benchmarks/results/quality/pool_programs.jsonl
    python benchmarks/quality.py collect --items 300 --routes 7,9,11,13 --only-disagreeing --out benchmarks/results/quality/pool_programs.jsonl
    python benchmarks/quality.py collect --items 300 --routes 6,8 --only-disagreeing --out benchmarks/results/quality/pool_programs.jsonl
    python benchmarks/quality_schedule.py; python benchmarks/quality_schedule.py --offset 150   # schedule.md, schedule_from150.md

Each schedule is replayed by `quality.replay_cascade` (the live cascade's rule, its early stop
and its waves of four) at each number of routes it can read, beside the plain chain (route 0,
always the baseline) and the default (alternating, six routes), on the same items.

Rules that must hold:
- The baseline is route 0; every row is scored on the same items: those every configuration
  can replay to the end (no half-scored item).
- Nothing reads the reference except the scoring; no model is loaded.
"""

from __future__ import annotations

import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arguments  # noqa: E402
import quality  # noqa: E402

POOL = quality.RESULTS / "pool_programs.jsonl"
OUT = quality.RESULTS / "schedule.md"
DEFAULT = ("alternating (the default)", 6)
# Each schedule names the pool's routes in the order the cascade would read them (even: a chain
# of thought, odd: a program), and the numbers of routes it is scored at.
SCHEDULES: dict[str, tuple[list[int], list[int]]] = {
    "alternating (the default)": ([0, 1, 2, 3, 4, 5, 6, 7], [4, 6, 8]),
    "chains only after the first wave": ([0, 1, 2, 4, 6, 8], [4, 6]),
    "one sampled chain, then programs": ([0, 1, 2, 3, 5, 7, 9, 11, 13], [4, 6, 8, 9]),
    "programs only after the first wave": ([0, 1, 3, 5, 7, 9, 11, 13], [4, 6, 8]),
    "two sampled chains among programs": ([0, 1, 2, 3, 5, 4, 7, 9, 11, 13], [6, 8, 10]),
}


def configurations() -> list[tuple[str, list[int], int]]:
    """Every (schedule, order, routes) scored, the default among them."""
    return [(name, order, k) for name, (order, ks) in SCHEDULES.items() for k in ks]


def compare(pool: dict[str, dict[int, dict[str, Any]]], questions: dict[str, str]) -> dict[str, Any]:
    """Each configuration's (right, tokens) on the items every configuration can replay."""
    replays: dict[str, dict[tuple[str, int], tuple[str, list[int]]]] = {}
    for item, question in questions.items():
        routes = pool.get(item, {})
        done = {(name, k): quality.replay_cascade(routes, k, 4, question, order) for name, order, k in configurations()}
        if all(done.values()):
            replays[item] = done  # type: ignore[assignment]
    items = list(replays)
    table: dict[str, list[tuple[bool, int]]] = {
        "plain chain of thought (greedy)": [(pool[i][0]["correct"], pool[i][0]["completion_tokens"]) for i in items]}
    for name, _, k in configurations():
        table[f"{name}, {k} routes"] = [
            (_right(replays[i][(name, k)][0], pool[i][0]["reference"]),
             sum(pool[i][n]["completion_tokens"] for n in replays[i][(name, k)][1])) for i in items]
    return {"items": items, "table": table}


def _right(answer: str, reference: str) -> bool:
    from ponder.tools.answers import equivalent

    return bool(answer) and equivalent(answer, reference)


def markdown(result: dict[str, Any], command: str, offset: int, count: int) -> str:
    """The results file: every configuration against the plain chain and the default."""
    from ponder.machine import machine_info

    items, table = result["items"], result["table"]
    base = [ok for ok, _ in table["plain chain of thought (greedy)"]]
    default = [ok for ok, _ in table[f"{DEFAULT[0]}, {DEFAULT[1]} routes"]]
    machine = machine_info()
    lines = [
        "# Which routes the cascade samples after its first wave (issue 12)",
        "",
        f"- date: {datetime.now(timezone.utc).date()}; commit: {quality._commit() or '?'}; machine: {machine['cpu']}, "
        f"{machine['cores']} cores; model: default (Qwen2.5-Coder-1.5B-Instruct Q4_K_M)",
        f"- command: `{command}` (the pool's commands are in the script's docstring)",
        f"- items: the {len(items)} of items {offset}..{offset + count - 1} of the fixed shuffle every configuration "
        "can replay" + (" (the tuning items)" if offset == 0 else " (nothing was tuned on them)"),
        "",
        "| configuration | right | vs plain: won / lost (p) | vs the default: won / lost (p) | mean tokens | median tokens |",
        "|---|---|---|---|---|---|",
    ]
    for name, outcomes in table.items():
        oks, tokens = [ok for ok, _ in outcomes], [t for _, t in outcomes]
        vs, vd = quality.paired(oks, base), quality.paired(oks, default)
        lines.append(f"| {name} | {sum(oks)}/{len(oks)} | {vs['wins']} / {vs['losses']} (p = {quality.format_p(vs['p'])}) "
                     f"| {vd['wins']} / {vd['losses']} (p = {quality.format_p(vd['p'])}) "
                     f"| {statistics.mean(tokens):.1f} | {statistics.median(tokens)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = arguments.parser(__doc__)
    parser.add_argument("--items", type=arguments.positive, default=150)
    parser.add_argument("--offset", type=arguments.offset, default=0)
    args = parser.parse_args()
    questions = {it["id"]: it["question"] for it in quality.items(args.items, args.offset)}
    result = compare(quality.pool_by_item(POOL), questions)
    if not result["items"]:
        parser.error(f"no item of {args.offset}..{args.offset + args.items - 1} can be replayed from {POOL}")
    out = OUT.with_stem(f"{OUT.stem}_from{args.offset}") if args.offset else OUT
    out.write_text(markdown(result, " ".join(["python", *sys.argv]), args.offset, args.items), encoding="utf-8")
    print(out.read_text())


if __name__ == "__main__":
    arguments.run(main)
