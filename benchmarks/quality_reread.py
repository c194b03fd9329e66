"""Benchmark (offline, on the quality pools): do the cascade's first two routes answer better when
the question is read twice (RE2, Xu et al. 2024, "Re-Reading Improves Reasoning in Large
Language Models": the question, then "Read the question again:" and the question once more)?

`pool_reread.jsonl` holds, on the first 300 items (150 tuning, 150 out of sample), a greedy
chain of thought (its route 2) and a greedy program (its route 3) asked with the `reread`
prompts of `quality.py` (collected with `quality.py collect --items 300 --routes 2,3
--temperature 0 --chain-prompt reread --program-prompt reread`). `seed` writes `pool_reread_cascade.jsonl`: those two routes as
routes 0 and 1, and the sampled routes of the main pool (their seeds and prompts do not
depend on the first two), so that `quality.py collect --routes 2-5 --only-disagreeing --out
pool_reread_cascade.jsonl` decodes only the sampled routes an item newly needs, where the
reread routes disagree and the makers' did not. `report` then scores, on the same items:
the plain chain (the main pool's route 0, the raw model: always the baseline), the reread
chain and program, and the cascade at `--samples` 3..6 with either first pair.

`report --pool pool_reread_programs.jsonl` scores another pool in place of the cascade pool:
there, the sampled programs (routes 3 and 5) read the question twice as well (its routes 0, 1,
2 and 4 copied from the cascade pool, then `quality.py collect --routes 3,5 --only-disagreeing
--program-prompt reread`); its results file is named after it (`reread_programs.md`).

Rules that must hold:
- The baseline is the main pool's route 0 (the makers' prompt), never the reread chain.
- An item is scored only where both cascades can be replayed to the end (no half-scored item).
- Nothing reads the reference except the scoring; no model is loaded.
- `seed` rewrites its pool whole (a temporary file renamed), keeping every sample decoded into it.
"""

from __future__ import annotations

import json
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arguments  # noqa: E402
import quality  # noqa: E402

REREAD_POOL = quality.RESULTS / "pool_reread.jsonl"
CASCADE_POOL = quality.RESULTS / "pool_reread_cascade.jsonl"
OUT = quality.RESULTS / "reread.md"
RENUMBER = {2: 0, 3: 1}  # the reread pool's greedy chain and program become the cascade's first routes


def seed(main: Path, reread: Path, out: Path) -> int:
    """Write the cascade pool: the reread routes as 0 and 1, the sampled routes beside them (the
    main pool's, and those already decoded into `out`); return how many items it holds."""
    rows = [row | {"n": RENUMBER[n]} for (_, n), row in quality.read_pool(reread).items() if n in RENUMBER]
    have = {row["id"] for row in rows}
    samples = quality.read_pool(main)
    samples |= {key: row for key, row in quality.read_pool(out).items() if key not in samples}  # decoded here
    rows += [row for (i, n), row in samples.items() if n >= 2 and i in have]
    partial = out.with_suffix(".jsonl.partial")  # written whole, then renamed: an interrupted seed loses no decoded sample
    partial.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    partial.replace(out)
    return len(have)


def _right(answer: str, reference: str) -> bool:
    from ponder.tools.answers import equivalent

    return bool(answer) and equivalent(answer, reference)


def compare(main: dict[str, dict[int, dict[str, Any]]], reread: dict[str, dict[int, dict[str, Any]]],
            questions: dict[str, str], samples: list[int]) -> dict[str, Any]:
    """Each configuration's outcomes and tokens on the items both cascades can replay."""
    items = [i for i in questions if i in main and i in reread
             and all(quality.replay_cascade(pool[i], k, 4, questions[i]) is not None
                     for pool in (main, reread) for k in samples)]
    table: dict[str, list[tuple[bool, int]]] = {
        "plain chain of thought (greedy, the makers' prompt)": [(main[i][0]["correct"], main[i][0]["completion_tokens"]) for i in items],
        "chain, the question read twice (greedy)": [(reread[i][0]["correct"], reread[i][0]["completion_tokens"]) for i in items],
        "program (greedy, the short prompt)": [(main[i][1]["correct"], main[i][1]["completion_tokens"]) for i in items],
        "program, the question read twice (greedy)": [(reread[i][1]["correct"], reread[i][1]["completion_tokens"]) for i in items],
    }
    for k in samples:
        for label, pool in (("the makers' first routes", main), ("first routes reading twice", reread)):
            outcomes = []
            for i in items:
                answer, read = quality.replay_cascade(pool[i], k, 4, questions[i])
                outcomes.append((_right(answer, pool[i][0]["reference"]), sum(pool[i][n]["completion_tokens"] for n in read)))
            table[f"cascade (samples={k}), {label}"] = outcomes
    return {"items": items, "table": table}


def _agreement(pool: dict[str, dict[int, dict[str, Any]]], items: list[str]) -> tuple[int, int]:
    from ponder.tools.answers import equivalent

    agree = [i for i in items if pool[i][0]["answer"] and pool[i][1]["answer"]
             and equivalent(pool[i][0]["answer"], pool[i][1]["answer"])]
    return len(agree), sum(pool[i][0]["correct"] for i in agree)


SAMPLED = {
    "reread": "the sampled routes are the main pool's (the makers' prompt, read once), decoded anew only where the "
              "reread routes disagree and the makers' did not",
    "reread_programs": "the sampled chains (routes 2, 4) are those of `reread`; the sampled programs (routes 3, 5) read "
                       "the question twice too (`quality.py collect --routes 3,5 --only-disagreeing --program-prompt "
                       "reread` into this pool, seeded with routes 0, 1, 2 and 4 of pool_reread_cascade.jsonl)",
}


def markdown(result: dict[str, Any], main: dict[str, dict[int, dict[str, Any]]],
             reread: dict[str, dict[int, dict[str, Any]]], command: str, offset: int, count: int,
             sampled: str = SAMPLED["reread"]) -> str:
    items, table = result["items"], result["table"]
    base = [ok for ok, _ in next(iter(table.values()))]
    from ponder.machine import machine_info

    machine = machine_info()
    lines = [
        "# Reading the question twice (RE2) in the cascade's first routes (issue 12, item 4)",
        "",
        f"- date: {datetime.now(timezone.utc).date()}; commit: {quality._commit() or '?'}; machine: {machine['cpu']}, "
        f"{machine['cores']} cores; model: default (Qwen2.5-Coder-1.5B-Instruct Q4_K_M)",
        f"- command: `{command}`, after `python benchmarks/quality.py collect --items {offset + count} --routes 2,3 "
        "--temperature 0 --chain-prompt reread --program-prompt reread --out benchmarks/results/quality/pool_reread.jsonl`, "
        "`python benchmarks/quality_reread.py seed` and `python benchmarks/quality.py collect --items "
        f"{offset + count} --routes 2-5 --only-disagreeing --out benchmarks/results/quality/pool_reread_cascade.jsonl`",
        f"- {sampled}",
        f"- items: the {len(items)} of items {offset}..{offset + count - 1} of the fixed shuffle both cascades can replay"
        + (" (the tuning items)" if offset == 0 else " (nothing was tuned on them)"),
        "- first routes agree: the makers' prompts on {} items ({} right), reading twice on {} ({} right)".format(
            *_agreement(main, items), *_agreement(reread, items)),
        "",
        "| configuration | right | wins / losses vs plain (McNemar p) | mean tokens | median tokens |",
        "|---|---|---|---|---|",
    ]
    for name, outcomes in table.items():
        oks, tokens = [ok for ok, _ in outcomes], [t for _, t in outcomes]
        vs = quality.paired(oks, base)
        lines.append(f"| {name} | {sum(oks)}/{len(oks)} | {vs['wins']} / {vs['losses']} (p = {quality.format_p(vs['p'])}) "
                     f"| {statistics.mean(tokens):.1f} | {statistics.median(tokens)} |")
    for k in sorted({int(n.split('=')[1].split(')')[0]) for n in table if n.startswith("cascade")}):
        old = [ok for ok, _ in table[f"cascade (samples={k}), the makers' first routes"]]
        new = [ok for ok, _ in table[f"cascade (samples={k}), first routes reading twice"]]
        vs = quality.paired(new, old)
        lines.append(f"\nAt `--samples {k}` reading twice against the makers' first routes: {vs['wins']} won / "
                     f"{vs['losses']} lost (p = {quality.format_p(vs['p'])}).")
    return "\n".join(lines) + "\n"


def results_file(pool: Path, offset: int) -> Path:
    """Where a report on `pool` from item `offset` is written: reread.md for the cascade pool,
    reread_programs.md for pool_reread_programs.jsonl; `_from<offset>` past the tuning items."""
    stem = OUT.stem if pool.resolve() == CASCADE_POOL.resolve() else pool.stem.removeprefix("pool_")
    return OUT.with_stem(f"{stem}_from{offset}" if offset else stem)


def main() -> None:
    parser = arguments.parser(__doc__)
    parser.add_argument("command", choices=("seed", "report"))
    parser.add_argument("--items", type=arguments.positive, default=150)
    parser.add_argument("--offset", type=arguments.offset, default=0)
    parser.add_argument("--samples", type=int, nargs="*", default=[3, 4, 5, 6])
    parser.add_argument("--pool", type=Path, default=CASCADE_POOL, help="the pool whose first routes read twice")
    args = parser.parse_args()
    if args.command == "seed":
        print(f"{seed(quality.RESULTS / 'pool.jsonl', REREAD_POOL, CASCADE_POOL)} items seeded into {CASCADE_POOL}")
        return
    if not args.pool.is_file():
        parser.error(f"no pool at {args.pool}")
    questions = {it["id"]: it["question"] for it in quality.items(args.items, args.offset)}
    main_pool, reread_pool = quality.pool_by_item(quality.RESULTS / "pool.jsonl"), quality.pool_by_item(args.pool)
    result = compare(main_pool, reread_pool, questions, args.samples)
    if not result["items"]:
        parser.error(f"no item of {args.offset}..{args.offset + args.items - 1} can be replayed from {args.pool}")
    out = results_file(args.pool, args.offset)
    sampled = SAMPLED.get(out.stem.split("_from")[0], f"the sampled routes are those of {args.pool.name}")
    out.write_text(markdown(result, main_pool, reread_pool, " ".join(["python", *sys.argv]), args.offset, args.items,
                            sampled), encoding="utf-8")
    print(out.read_text())


if __name__ == "__main__":
    arguments.run(main)
