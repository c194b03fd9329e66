"""Benchmark (offline, on the quality pool): do chains of thought that write Python and then
invent its ```output``` block cost the cascade, and does running their code pay?

Two replays of the default cascade (`--samples 6`) over the pool's items, against the pool
as decoded: (1) such chains' votes discounted, (2) their code run in ponder's sandbox and,
where the chain's answer was the invented output, the answer replaced by the real one.

Rules that must hold:
- Model text is code only inside the sandbox (`ponder.tools.sandbox`), never in this process.
- Nothing reads the reference except the scoring; no model is loaded.
"""

from __future__ import annotations

import copy
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arguments  # noqa: E402
import quality  # noqa: E402

FENCE = "`" * 3
BLOCK = re.compile(FENCE + r"python\n(.*?)" + FENCE + r"\s*" + FENCE + r"output\n(.*?)" + FENCE, re.S)
OUT = quality.RESULTS / "exec.md"
SLICES = ((0, 150), (150, 150))


def invents_output(row: dict) -> bool:
    """A chain of thought that shows a program's output it never ran."""
    return row["route"] == "reason" and FENCE + "output" in row["text"]


def executed(by_item: dict, counts: dict) -> dict:
    """The pool with each inventing chain's answer replaced by what its code really prints."""
    from ponder.tools.answers import equivalent, normalize_answer
    from ponder.tools.sandbox import Sandbox

    box, patched = Sandbox(), copy.deepcopy(by_item)
    for item_id, routes in by_item.items():
        for n, row in routes.items():
            blocks = BLOCK.findall(row["text"]) if invents_output(row) else []
            if not blocks:
                continue
            counts["run"] += 1
            result = box.run("\n".join(code for code, _ in blocks))  # later blocks use earlier names
            invented = (blocks[-1][1].strip().splitlines() or [""])[-1].strip()
            real = (result.stdout.strip().splitlines() or [""])[-1].strip() if result.ok else ""
            if not real or equivalent(real, invented) or not (row["answer"] and equivalent(row["answer"], invented)):
                continue
            answer = normalize_answer(real).normalized
            right = bool(answer) and equivalent(answer, row["reference"])
            counts["changed"] += 1
            counts["fixed"] += right and not row["correct"]
            counts["broken"] += row["correct"] and not right
            patched[item_id][n] = {**row, "answer": answer, "correct": right}
    return patched


def right_answer(routes: dict) -> bool | None:
    """Whether the default cascade's replay over one item's routes is right (None: incomplete)."""
    from ponder.tools.answers import equivalent

    replay = quality.replay_cascade(routes, 6, 4)
    return None if replay is None else bool(replay[0]) and equivalent(replay[0], routes[0]["reference"])


def cascade_right(by_item: dict, offset: int, count: int, factor: float = 1.0,
                  discounted: Callable[[dict], bool] = invents_output) -> tuple[int, int]:
    """Items the default cascade answers right, and items replayed, in one slice of the shuffle,
    the vote of a route that is `discounted` (by default an inventing chain) weighing `factor`
    of the others'."""
    from ponder.agent.strategies import cascade

    plain = cascade.weight
    outcomes = []
    try:
        for item in quality.items(count, offset):
            routes = by_item.get(item["id"])
            if routes:
                cascade.weight = lambda s, r=routes: plain(s) * (factor if discounted(r[s.index - 1]) else 1.0)
                outcomes.append(right_answer(routes))
    finally:
        cascade.weight = plain
    done = [ok for ok in outcomes if ok is not None]
    return sum(done), len(done)


def main() -> None:
    arguments.parser(__doc__).parse_args()
    from ponder.machine import machine_info

    pool = quality.read_pool(quality.RESULTS / "pool.jsonl")
    by_item: dict = {}
    for (item_id, n), row in pool.items():
        by_item.setdefault(item_id, {})[n] = row
    sampled = [r for routes in by_item.values() for n, r in routes.items() if r["route"] == "reason" and n >= 2]
    inventing = [r for r in sampled if invents_output(r)]
    counts = {"run": 0, "changed": 0, "fixed": 0, "broken": 0}
    patched = executed(by_item, counts)
    right_after = sum(r["correct"] for routes in patched.values() for n, r in routes.items()
                      if r["route"] == "reason" and n >= 2)
    fixed_items = [i for i, routes in by_item.items()
                   if any(patched[i][n]["correct"] and not row["correct"] for n, row in routes.items())]
    already = sum(bool(right_answer(by_item[i])) for i in fixed_items)
    machine = machine_info()
    lines = [
        "# Chains that invent a program's output: discounted, or their code run",
        "",
        f"- date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}; commit: {quality._commit()}; "
        f"machine: {machine['cpu']}, {machine['cores']} cores; model: default (the quality pool, no decoding)",
        f"- command: `python benchmarks/quality_exec.py`",
        f"- sampled chains of thought (routes 2, 4, 6): {len(sampled)}; showing an invented ```output``` block: "
        f"{len(inventing)}, right {sum(r['correct'] for r in inventing)}; the others right "
        f"{sum(r['correct'] for r in sampled if not invents_output(r))} of {len(sampled) - len(inventing)}",
        f"- code run in the sandbox: {counts['run']} chains (greedy ones included); answer was the invented output "
        f"and the real output differs: {counts['changed']}; fixed {counts['fixed']}, broken {counts['broken']}; "
        f"sampled chains right {right_after} of {len(sampled)} after, "
        f"{sum(r['correct'] for r in sampled)} before",
        f"- items with a chain fixed: {len(fixed_items)}, of which the cascade as decoded already answered right "
        f"{already}",
        "",
        "| items of the shuffle | cascade as decoded | inventing chains' vote × 0.5 | × 0 | code run |",
        "|---|---|---|---|---|",
    ]
    for offset, count in SLICES:
        base = cascade_right(by_item, offset, count)
        half, zero = cascade_right(by_item, offset, count, 0.5), cascade_right(by_item, offset, count, 0.0)
        run = cascade_right(patched, offset, count)
        lines.append(f"| {offset}..{offset + count - 1} ({base[1]} complete) | {base[0]} | {half[0]} | {zero[0]} | {run[0]} |")
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(OUT.read_text(encoding="utf-8"))


if __name__ == "__main__":
    arguments.run(main)
