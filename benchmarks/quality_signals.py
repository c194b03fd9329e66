"""Benchmark (offline, on the stored routes): two cheap signals a program or a chain gives
about itself, and whether reading them moves the default cascade.

1. A program that leaves out a number the question gives (no literal of it, nor of it / 100
   or * 100, in its code; 1 and 2 are left out of the test, as they are often implicit):
   is it wrong more often, and does the cascade gain by weighing its vote 0.5 or 0, or by not
   stopping at a first-wave agreement it is part of?
2. A chain of thought that states no answer (no \\boxed{}, no "the answer is"): every stored
   one was cut off at its token limit. Does the cascade gain when it has no answer?

Replayed over the tuning pool (`pool.jsonl`, 300 items; its sampled routes exist only where
the greedy routes disagree, so the no-stop rule leaves out items it cannot replay) and the
GPU-written routes (`probe_routes.jsonl`, `probe_routes_800.jsonl`: all six routes).

Rules that must hold:
- Model code is only tokenized here (Python's `tokenize`), never run or evaluated.
- Nothing reads the reference except the scoring; no model is loaded.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tokenize
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arguments  # noqa: E402
import quality  # noqa: E402

OUT = quality.RESULTS / "signals.md"
SETS = ("pool.jsonl", "probe_routes.jsonl", "probe_routes_800.jsonl")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
IMPLICIT = {Fraction(1), Fraction(2)}


def question_numbers(question: str) -> set[Fraction]:
    """The numbers a question writes in digits ('1,250' is 1250)."""
    return {Fraction(m.group().replace(",", "")) for m in _NUMBER.finditer(question)}


def code_numbers(code: str) -> set[Fraction] | None:
    """The number literals of a program (None when it does not tokenize)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    found = set()
    for token in tokens:
        if token.type == tokenize.NUMBER:
            try:
                found.add(Fraction(token.string.replace("_", "")))
            except ValueError:
                continue
    return found


def leaves_out(question: str, row: dict[str, Any]) -> bool:
    """Whether a program route leaves out a number its question gives."""
    if row["route"] != "program" or not row.get("answer") or "text" not in row:
        return False
    have = code_numbers(row["text"].removeprefix("```python\n").removesuffix("```"))
    if have is None:
        return False
    return any(n not in have and n / 100 not in have and n * 100 not in have
               for n in question_numbers(question) - IMPLICIT)


def unstated(row: dict[str, Any]) -> bool:
    """A chain of thought with an answer read from it that it never states."""
    from ponder.tools.answers import _stated

    return row["route"] == "reason" and bool(row.get("answer")) and "text" in row and not _stated(row["text"])


def by_item(name: str) -> dict[str, dict[int, dict[str, Any]]]:
    routes: dict[str, dict[int, dict[str, Any]]] = {}
    for (item_id, n), row in quality.read_pool(quality.RESULTS / name).items():
        routes.setdefault(item_id, {})[n] = row
    return routes


def replay(items: dict[str, dict[int, dict[str, Any]]], questions: dict[str, str], factor: float = 1.0,
           no_stop: bool = False, blank: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, bool]:
    """Whether the default cascade answers each item right, with a program that leaves out a
    number weighing `factor`, never stopping on its agreement (`no_stop`), or `blank` routes
    answering nothing."""
    from ponder.agent.strategies import cascade
    from ponder.tools.answers import equivalent

    plain_weight, plain_agree = cascade.weight, cascade._agree
    right: dict[str, bool] = {}
    try:
        for item_id, routes in items.items():
            question = questions[item_id]
            if blank:
                routes = {n: {**r, "answer": ""} if blank(r) else r for n, r in routes.items()}
            flagged = {n for n, r in routes.items() if leaves_out(question, r)}
            cascade.weight = lambda s, f=flagged: plain_weight(s) * (factor if s.index - 1 in f else 1.0)
            if no_stop:
                cascade._agree = lambda ss, same, f=flagged: plain_agree(ss, same) and not any(s.index - 1 in f for s in ss)
            answer = quality.replay_cascade(routes, 6, 4, question)
            if answer is not None:
                right[item_id] = bool(answer[0]) and equivalent(answer[0], routes[0]["reference"])
    finally:
        cascade.weight, cascade._agree = plain_weight, plain_agree
    return right


def compare(base: dict[str, bool], new: dict[str, bool]) -> str:
    both = [i for i in base if i in new]
    won = sum(new[i] and not base[i] for i in both)
    lost = sum(base[i] and not new[i] for i in both)
    return f"{sum(new[i] for i in both)} of {len(both)} (base {sum(base[i] for i in both)}; {won} won / {lost} lost)"


def main() -> None:
    arguments.parser(__doc__).parse_args()
    from ponder.machine import machine_info

    data = (quality.DATA.read_text(encoding="utf-8")).splitlines()
    questions = {row["id"]: row["question"] for row in map(json.loads, filter(None, data))}
    machine = machine_info()
    lines = [
        "# Two cheap signals: a program that leaves out a given number, a chain that states no answer",
        "",
        f"- date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}; commit: {quality._commit()}; "
        f"machine: {machine['cpu']}, {machine['cores']} cores; model: default (stored routes, no decoding)",
        "- command: `python benchmarks/quality_signals.py`",
        "",
        "| routes | programs leaving out a number: right / all | other programs | unstated chains: right / all |",
        "|---|---|---|---|",
    ]
    rows = []
    for name in SETS:
        items = by_item(name)
        routes = [(questions[i], r) for i, rs in items.items() for r in rs.values()]
        out = [r["correct"] for q, r in routes if leaves_out(q, r)]
        other = [r["correct"] for q, r in routes if r["route"] == "program" and r.get("answer") and not leaves_out(q, r)]
        chains = [r["correct"] for _, r in routes if unstated(r)]
        lines.append(f"| {name} | {sum(out)} / {len(out)} | {sum(other)} / {len(other)} | {sum(chains)} / {len(chains)} |")
        base = replay(items, questions)
        rows.append(f"| {name} | {sum(base.values())} of {len(base)} | {compare(base, replay(items, questions, 0.5))} | "
                    f"{compare(base, replay(items, questions, 0.0))} | {compare(base, replay(items, questions, no_stop=True))} | "
                    f"{compare(base, replay(items, questions, blank=unstated))} |")
    lines += ["", "The default cascade (`--samples 6`) replayed:", "",
              "| routes | as decoded | leaving-out programs × 0.5 | × 0 | no stop on their agreement | unstated chains blank |",
              "|---|---|---|---|---|---|", *rows]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(OUT.read_text(encoding="utf-8"))


if __name__ == "__main__":
    arguments.run(main)
