"""Benchmark (offline, on the quality pools): does a chain told the greedy routes' answers
(Progressive-Hint Prompting, Zheng et al. 2023) choose between them better than the vote?

Where the greedy chain (route 0) and the greedy program (route 1) disagree, `pool_hint.jsonl`
holds one more greedy chain (its route 2) asked the question followed by "(Hint: The answer is
near to A, B.)" (`quality.hinted`, collected with `quality.py collect --routes 2 --hint
--temperature 0`). Replays, against the default cascade (`--samples 6`) on the main pool:
- arbiter: when the hinted chain sides with route 0 or 1, answer that after three routes;
  else the default cascade (the hinted chain's tokens counted too);
- tie-break: the default cascade, a tie among its top groups broken for the hinted answer
  (its tokens counted only where the vote ties);
- seventh vote: the hinted chain's answer as one more vote among the routes the cascade read.
(The hinted chain in the place of sampled route 2 is `quality.py report` on `pool_hint.jsonl`.)

Rules that must hold:
- The hinted chain is not a route: it reads other routes' answers, so its agreement with
  them is not independent evidence; it is scored only as a chooser.
- Nothing reads the reference except the scoring; no model is loaded.
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

HINT_POOL = quality.RESULTS / "pool_hint.jsonl"
OUT = quality.RESULTS / "hint.md"


def _same(a: str, b: str) -> bool:
    from ponder.tools.answers import equivalent

    return bool(a) and bool(b) and equivalent(a, b)


def _top(answers: list[str], prefer: str) -> str:
    """The vote's answer (the earliest group on a tie), a tie broken for `prefer` where it is tied."""
    groups = quality._groups(answers)
    if not groups:
        return ""
    best = max(len(g) for g in groups)
    tied = [g[0] for g in groups if len(g) == best]
    return next((a for a in tied if _same(a, prefer)), tied[0])


def item_rules(routes: dict[int, dict[str, Any]], hinted: dict[str, Any] | None) -> dict[str, tuple[str, int]]:
    """Each rule's answer and completion tokens on one item."""
    answer, read = quality.replay_cascade(routes, 6, 4)
    spent = sum(routes[n]["completion_tokens"] for n in read)
    out = {"default cascade (samples=6)": (answer, spent)}
    if hinted is None:  # the greedy routes agree: every rule stops there
        out = {name: out["default cascade (samples=6)"] for name in RULES}
    out[PLAIN] = (routes[0]["answer"], routes[0]["completion_tokens"])
    if hinted is None:
        return out
    hint, extra = hinted["answer"], hinted["completion_tokens"]
    first = [routes[0]["answer"], routes[1]["answer"]]
    sides = any(_same(hint, a) for a in first)
    three = sum(routes[n]["completion_tokens"] for n in (0, 1)) + extra
    out["arbiter (hinted chain sides with a greedy route: stop at 3)"] = (hint, three) if sides else (answer, spent + extra)
    answers = [routes[n]["answer"] for n in read]
    out["tie-break by the hinted chain"] = (_top(answers, hint), spent + extra * _tied(answers))
    out["hinted chain as a seventh vote"] = (_top(answers + [hint], ""), spent + extra)
    return out


def _tied(answers: list[str]) -> bool:
    """Whether the vote's top groups are tied (where a tie-break would ask the hinted chain)."""
    sizes = sorted((len(g) for g in quality._groups(answers)), reverse=True)
    return len(sizes) > 1 and sizes[0] == sizes[1]


PLAIN = "plain chain of thought (greedy, no ponder)"
RULES = ("default cascade (samples=6)", "arbiter (hinted chain sides with a greedy route: stop at 3)",
         "tie-break by the hinted chain", "hinted chain as a seventh vote")


def evaluate(offset: int, count: int) -> dict[str, Any]:
    """Every rule on one slice of the shuffle, with the hinted chain's own record."""
    main, hint = quality.read_pool(quality.RESULTS / "pool.jsonl"), quality.read_pool(HINT_POOL)
    plain, scores = [], {name: [] for name in (PLAIN, *RULES)}
    chooser = {"disagreeing": 0, "hinted_right": 0, "chain_right": 0, "program_right": 0, "sides": 0,
               "sides_with_chain": 0, "one_greedy_right": 0, "hinted_picks_it": 0, "vote_picks_it": 0}
    for item in quality.items(count, offset):
        routes = {n: main[(item["id"], n)] for n in range(8) if (item["id"], n) in main}
        ref = routes[0]["reference"]
        agree = _same(routes[0]["answer"], routes[1]["answer"])
        hinted = None if agree else hint.get((item["id"], 2))
        if not agree and hinted is None:
            continue  # not collected yet
        rules = item_rules(routes, hinted)
        plain.append(routes[0]["correct"])
        for name in scores:
            scores[name].append((_same(rules[name][0], ref), rules[name][1]))
        if hinted is not None:
            _tally(chooser, routes, hinted["answer"], rules["default cascade (samples=6)"][0], ref)
    rows = []
    for name in (PLAIN, *RULES):
        row = quality.score(name, scores[name])
        row["vs_default"] = quality.paired(row.pop("outcomes"), [ok for ok, _ in scores[RULES[0]]])
        rows.append(row)
    return {"offset": offset, "items": len(plain), "plain_correct": sum(plain), "chooser": chooser, "rows": rows}


def _tally(counts: dict[str, int], routes: dict[int, dict[str, Any]], hint: str, vote: str, ref: str) -> None:
    chain, program = routes[0]["answer"], routes[1]["answer"]
    counts["disagreeing"] += 1
    counts["hinted_right"] += _same(hint, ref)
    counts["chain_right"] += _same(chain, ref)
    counts["program_right"] += _same(program, ref)
    counts["sides"] += _same(hint, chain) or _same(hint, program)
    counts["sides_with_chain"] += _same(hint, chain)
    if _same(chain, ref) != _same(program, ref):
        counts["one_greedy_right"] += 1
        counts["hinted_picks_it"] += _same(hint, ref)
        counts["vote_picks_it"] += _same(vote, ref)


def markdown(result: dict[str, Any]) -> str:
    """The results as a Markdown page."""
    c = result["chooser"]
    lines = ["# Quality: a hinted chain as the chooser (Progressive-Hint Prompting)", "",
             f"- date: {result['date']}; commit: {result['commit']}; machine: {result['machine']['cpu']}, "
             f"{result['machine']['cores']} cores",
             f"- command: `{result['command']}`",
             f"- items {result['offset']}..{result['offset'] + result['items'] - 1} of the fixed shuffle "
             f"({result['items']} items; plain chain {result['plain_correct']} right)", "",
             f"Where the greedy routes disagree ({c['disagreeing']} items): the hinted chain is right on "
             f"{c['hinted_right']}, the greedy chain on {c['chain_right']}, the greedy program on {c['program_right']}; "
             f"the hinted chain sides with one of them on {c['sides']} ({c['sides_with_chain']} with the chain). "
             f"Where exactly one of the two is right ({c['one_greedy_right']} items) the hinted chain picks it on "
             f"{c['hinted_picks_it']}, the default vote on {c['vote_picks_it']}.", "",
             "| rule | accuracy | 95% CI | won / lost vs default (p) | mean tokens | median tokens |",
             "|---|---|---|---|---|---|"]
    for row in result["rows"]:
        v = row["vs_default"]
        lines.append(f"| {row['name']} | {row['correct']}/{row['items']} = {row['accuracy']:.1%} | "
                     f"{row['ci95'][0]:.1%}–{row['ci95'][1]:.1%} | {v['wins']} / {v['losses']} "
                     f"(p = {quality.format_p(v['p'])}) | {row['mean_tokens']} | {row['median_tokens']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from ponder.machine import machine_info

    parser = arguments.parser(__doc__)
    parser.add_argument("offset", nargs="?", type=arguments.offset, default=0, help="first item of the fixed shuffle")
    parser.add_argument("count", nargs="?", type=arguments.positive, default=150, help="items from there")
    args = parser.parse_args()
    offset, count = args.offset, args.count
    result = evaluate(offset, count) | {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": quality._commit(),
        "machine": machine_info(), "command": " ".join(["python", *sys.argv])}
    suffix = f"_from{offset}" if offset else ""
    OUT.with_name(f"hint{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")
    OUT.with_name(f"hint{suffix}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    arguments.run(main)
