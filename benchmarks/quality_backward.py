"""Benchmark (on the quality pool): does backward verification choose better among the
cascade's answer groups than its vote? An outside check of a candidate answer: the question
run backwards from it (Self-Verification, Weng et al. 2023; FOBAR, Jiang et al. 2024).

For every item whose two greedy routes disagree, the routes the cascade reads at `--samples`
(replayed from the pool, `quality.replay_cascade`) are grouped by equivalent answer. Up to
`--masks` numbers of the question (the first ones written in digits that occur once) are
each masked as x in turn, and for every group's answer A the greedy program route, in a
fresh context, is told that the answer is A and asked for a sympy program that computes the
answer from the masked question's numbers and x and solves `answer - A = 0` for x
(`BACKWARD`). The program runs in the sandbox; a mask is recovered when it prints the masked
number. A wrong A should rarely lead back to the question's own number; a right one should,
as often as the model can write the problem forwards. (FOBAR's own wording, the masked
question followed by "If we know the answer to the above question is A, what is the value of
the unknown variable x?", recovered no mask of the first 32 runs: 18 failed or printed nothing,
mostly using x undefined, and the others solved the question forwards.)

`collect` writes one JSON line per (item, answer, mask), resumable, to
`results/quality/backward.jsonl`; `evaluate` reads it (no model) and scores, on the same
items with the plain chain beside them: the cascade's vote, the recovered count alone, and
the vote plus lambda x the share of masks recovered (FOBAR multiplies the forward and
backward shares; a weighted sum is scored here). Items where the greedy routes
agree are answered as the cascade answers them.

    python benchmarks/quality_backward.py collect --items 150            # the tuning items
    python benchmarks/quality_backward.py collect --offset 150 --items 150   # out of sample
    python benchmarks/quality_backward.py evaluate --items 150           # backward.md
    python benchmarks/quality_backward.py evaluate --offset 150 --items 150   # backward_from150.md

A confirmation on items no choice was made on: `--routes gpu` reads the routes the GPU wrote
for items 300..799 (`probe_routes.jsonl`, transformers on the same model, the cascade's six
routes) in place of the CPU pool; the backward programs are still the default GGUF model's.
Registered before it ran (2026-11-24): the rule is the vote + 1.5 x share recovered, on items
300..549, against the vote. It answered 198 against 196 of 250 (3 won / 1 lost): not kept.

    python benchmarks/quality_backward.py collect --routes gpu --offset 300 --items 250
    python benchmarks/quality_backward.py evaluate --routes gpu --offset 300 --items 250   # backward_from300.md

Never run on GSM8K test (the pool holds training problems only).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import arguments  # noqa: E402
from quality import RESULTS, _commit, _drain, items, read_pool, replay_cascade, wilson  # noqa: E402
from quality_judge import groups_of, pick  # noqa: E402

OUT = RESULTS / "backward.jsonl"
POOL = RESULTS / "pool.jsonl"
ROUTE_FILES = {"pool": POOL, "gpu": RESULTS / "probe_routes.jsonl"}
BACKWARD = """The answer to the question below is {answer}, and one of its numbers is written as the unknown x. Write a Python program with sympy that finds x: begin with `from sympy import symbols, solve` and `x = symbols('x')`, compute the question's answer from its numbers and x step by step, then end with `print(solve(answer - {answer}, x)[0])`.

Question: $question"""
NUMBER = re.compile(r"(?<![\w.,$])\$?(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w]|[.,]\d)")
LAMBDAS = (0.5, 1.0, 1.5, 2.0, 3.0)


def masks(question: str, limit: int) -> list[tuple[str, str]]:
    """Up to `limit` (masked question, masked number): the first numbers in digits that occur once."""
    found = [m for m in NUMBER.finditer(question)]
    texts = [m.group(0).lstrip("$") for m in found]
    out = []
    for match, text in zip(found, texts):
        if texts.count(text) != 1:
            continue
        start = match.start() + (1 if match.group(0).startswith("$") else 0)
        masked = question[:start] + "x" + question[match.end():]
        out.append((masked, text.replace(",", "")))
        if len(out) == limit:
            break
    return out


def backward_catalogue(catalogue: Any, answer: str) -> Any:
    """The catalogue whose program prompt runs the question backwards from this candidate answer."""
    from dataclasses import replace

    literal = answer.replace("$", "$$")  # model text: never a template placeholder
    return replace(catalogue, prompts={**catalogue.prompts, "program_user": BACKWARD.replace("{answer}", literal)})


def disagreeing(offset: int, count: int, samples: int, parallel: int, source: Path = POOL) -> list[dict[str, Any]]:
    """The items whose greedy routes disagree, each with its answer groups and the cascade's outcome."""
    from ponder.tools.answers import equivalent

    pool = read_pool(source)
    out = []
    for item in items(count, offset):
        routes = {n: row for (i, n), row in pool.items() if i == item["id"]}
        replay = replay_cascade(routes, samples, parallel)
        if replay is None:
            raise SystemExit(f"{item['id']}: {source.name} lacks a route the cascade reads; collect it first")
        answer, read = replay
        right = bool(answer) and equivalent(answer, routes[0]["reference"])
        out.append({"id": item["id"], "question": item["question"], "cascade": right, "plain": routes[0]["correct"],
                    "groups": groups_of(routes, read) if read != [0, 1] else None})
    return out


def read_rows() -> dict[tuple[str, str, int], dict[str, Any]]:
    """The backward runs collected, by (item id, answer, mask index); damaged lines skipped."""
    rows: dict[tuple[str, str, int], dict[str, Any]] = {}
    if OUT.exists():
        for line in OUT.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                rows[(row["id"], row["answer"], int(row["mask"]))] = row
            except (ValueError, KeyError, TypeError):
                continue
    return rows


def collect(args: argparse.Namespace) -> None:
    """Run every group's backward programs not yet in the file."""
    from ponder.agent.engine.calls import drive_together
    from ponder.agent.engine.ids import SpanIds
    from ponder.agent.engine.routes import PROGRAM, RouteCall, run_route
    from ponder.agent.settings import ChainConfig
    from ponder.llm.llama import LlamaBackend, LoadOptions
    from ponder.llm.registry import resolve_model
    from ponder.thought_factors.catalogue import load_catalogue
    from ponder.tools.answers import equivalent

    done = read_rows()
    todo = []
    for item in disagreeing(args.offset, args.items, args.samples, args.parallel, ROUTE_FILES[args.routes]):
        for k, (masked, number) in enumerate(masks(item["question"], args.masks)):
            todo += [(item, g["answer"], k, masked, number) for g in item["groups"] or ()
                     if (item["id"], g["answer"], k) not in done]
    print(f"{len(todo)} backward programs to run", file=sys.stderr)
    backend = LlamaBackend(resolve_model(args.model), LoadOptions(n_ctx=4096, sequences=args.parallel))
    catalogue = load_catalogue()
    chunk = args.parallel * 4
    with open(OUT, "a", encoding="utf-8") as sink:
        for start in range(0, len(todo), chunk):
            wave, ids = todo[start: start + chunk], SpanIds()
            works = [run_route(RouteCall(backend, backward_catalogue(catalogue, answer), masked, "backward",
                                         f"{item['id']}-{k}", ids), PROGRAM, ChainConfig(temperature=0.0))
                     for item, answer, k, masked, number in wave]
            began = time.perf_counter()
            results = list(_drain(drive_together(backend, works)))[-1]
            seconds = time.perf_counter() - began
            for (item, answer, k, masked, number), result in zip(wave, results):
                x = result.answer.normalized
                row = {"id": item["id"], "answer": answer, "mask": k, "number": number, "x": x,
                       "recovered": bool(x) and equivalent(x, number), "completion_tokens": result.completion_tokens,
                       "text": result.transcript.split("<|im_start|>assistant\n")[-1][-2000:]}
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                sink.flush()
            tokens = sum(r.completion_tokens for r in results)
            print(f"{start + len(wave)}/{len(todo)}: {tokens} tokens in {seconds:.0f}s ({tokens / seconds:.1f}/s)",
                  file=sys.stderr)


def attach(scored: list[dict[str, Any]], rows: dict[tuple[str, str, int], dict[str, Any]], limit: int) -> None:
    """Give every group its masks tried and recovered (at most `limit` masks)."""
    for item in scored:
        tried = len(masks(item["question"], limit))
        for group in item["groups"]:
            found = [rows.get((item["id"], group["answer"], k)) for k in range(tried)]
            if tried and not all(found):
                raise SystemExit(f"{item['id']}: backward runs missing for {group['answer']}; collect them first")
            group["tried"] = tried
            group["recovered"] = sum(r["recovered"] for r in found if r)
            group["share"] = group["recovered"] / tried if tried else 0.0


def rules() -> dict[str, Any]:
    """Every rule scored: a name and the key it maximizes (None: the cascade's own answer)."""
    out: dict[str, Any] = {"vote (the cascade)": None, "recovered alone (vote breaks ties)":
                           lambda g: (g["recovered"], g["votes"])}
    for lam in LAMBDAS:
        out[f"vote + {lam} x share recovered"] = lambda g, lam=lam: g["votes"] + lam * g["share"]
    out["vote, ties broken by recovered"] = lambda g: (g["votes"], g["recovered"])
    return out


def evaluate(args: argparse.Namespace) -> None:
    """Score every rule on the items and write backward[_fromN].{json,md}."""
    from ponder.machine import machine_info

    everything = disagreeing(args.offset, args.items, args.samples, args.parallel, ROUTE_FILES[args.routes])
    scored = [i for i in everything if i["groups"] is not None]
    rows = read_rows()
    attach(scored, rows, args.masks)
    agreeing_right = sum(i["cascade"] for i in everything if i["groups"] is None)
    plain = sum(i["plain"] for i in everything)
    tokens = [r["completion_tokens"] for i in scored for g in i["groups"] for k in range(g["tried"])
              if (r := rows.get((i["id"], g["answer"], k)))]
    suffix = f"_from{args.offset}" if args.offset else ""
    command = (f"python benchmarks/quality_backward.py evaluate --routes {args.routes} --offset {args.offset} "
               f"--items {args.items}")
    lines = [f"# Backward verification against the cascade's vote (samples={args.samples}, masks={args.masks})", "",
             f"- date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}; commit: {_commit()}; "
             f"machine: {machine_info().get('cpu', '')}; model: default; routes: {ROUTE_FILES[args.routes].name}",
             f"- command: `{command}`",
             f"- items {args.offset}..{args.offset + args.items - 1}: {args.items}; the greedy routes disagree on "
             f"{len(scored)}; the rest answered as the cascade does ({agreeing_right} right)",
             f"- plain chain of thought: {plain}/{args.items}",
             f"- cost: {len(tokens)} backward programs, {sum(tokens)} completion tokens "
             f"({sum(tokens) / max(1, len(scored)):.0f} per item that samples on)",
             f"- oracle (a group right): {sum(any(g['correct'] for g in s['groups']) for s in scored)}/{len(scored)}",
             "", "| rule | right of the disagreeing items | right of all items | won / lost vs the vote |",
             "|---|---|---|---|"]
    result: dict[str, Any] = {"rows": []}
    for name, key in rules().items():
        chosen = [s["cascade"] if key is None else bool((g := pick(s["groups"], key)) and g["correct"])
                  for s in scored]
        right, won = sum(chosen), sum(c and not s["cascade"] for c, s in zip(chosen, scored))
        lost = sum(s["cascade"] and not c for c, s in zip(chosen, scored))
        low, high = wilson(right + agreeing_right, args.items)
        lines.append(f"| {name} | {right}/{len(scored)} | {right + agreeing_right}/{args.items} = "
                     f"{(right + agreeing_right) / args.items:.1%} ({low:.1%}–{high:.1%}) | {won} / {lost} |")
        result["rows"].append({"rule": name, "right": right, "of": len(scored), "all_right": right + agreeing_right,
                               "won": won, "lost": lost})
    lines += ["", separation(scored)]
    text = "\n".join(lines) + "\n"
    (RESULTS / f"backward{suffix}.md").write_text(text, encoding="utf-8")
    result["items"] = [{"id": s["id"], "cascade": s["cascade"], "groups": [
        {k: g[k] for k in ("answer", "correct", "votes", "tried", "recovered")} for g in s["groups"]]} for s in scored]
    result.update(machine=machine_info(), date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  command=command)
    (RESULTS / f"backward{suffix}.json").write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(text)


def separation(scored: list[dict[str, Any]]) -> str:
    """How often right and wrong groups lead back to the question's number, and the within-item AUC."""
    good = [g for s in scored for g in s["groups"] if g["correct"] and g["tried"]]
    bad = [g for s in scored for g in s["groups"] if not g["correct"] and g["tried"]]
    pairs = [(a["share"] > b["share"]) + 0.5 * (a["share"] == b["share"]) for s in scored
             for a in s["groups"] if a["correct"] and a["tried"] for b in s["groups"] if not b["correct"]]
    return (f"- masks recovered: {sum(g['recovered'] for g in good)} of {sum(g['tried'] for g in good)} for right "
            f"groups ({len(good)}), {sum(g['recovered'] for g in bad)} of {sum(g['tried'] for g in bad)} for wrong "
            f"groups ({len(bad)}); within an item, a right group above a wrong one: AUC "
            f"{sum(pairs) / max(1, len(pairs)):.3f} over {len(pairs)} pairs")


def main() -> None:
    parser = arguments.parser(__doc__)
    parser.add_argument("command", choices=("collect", "evaluate"))
    parser.add_argument("--items", type=arguments.positive, default=150)
    parser.add_argument("--offset", type=arguments.offset, default=0)
    parser.add_argument("--samples", type=arguments.positive, default=6)
    parser.add_argument("--masks", type=arguments.positive, default=1)
    parser.add_argument("--parallel", type=arguments.positive, default=4)
    parser.add_argument("--model", default="default")
    parser.add_argument("--routes", choices=tuple(ROUTE_FILES), default="pool",
                        help="whose routes: the CPU pool (items 0..299) or the GPU-written ones (items 300..799)")
    args = parser.parse_args()
    collect(args) if args.command == "collect" else evaluate(args)


if __name__ == "__main__":
    arguments.run(main)
