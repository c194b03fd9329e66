"""Benchmark (offline, on the stored routes): does a choice model over the cascade's answer
groups, trained on 1,268 GPU-written items, beat its plain vote on the llama.cpp-written pool?

Issue 12's learned score, with the data it lacked before: the first try (`quality_learned.py`)
trained on the 65 disagreeing tuning items alone. Here every answer group of an item where the
greedy routes disagree gets features the run already has or can read from the routes' text:
its chain and program votes, whether both routes reached it, whether the greedy chain and the
greedy program did, the cascade's own weight, whether the answer is a whole number, negative,
or a number the question gives, its size, whether its programs leave out a number the question
gives (`quality_signals.leaves_out`), whether its chains state no answer, show an output block
they never ran, or are long. A conditional logit (a softmax over the item's groups, numpy,
L2) is fitted on the GPU-written routes (`probe_routes.jsonl`, `probe_routes_800.jsonl`, the
cascade's six routes on 1,268 training problems); L2 and the rule (the model's top group, or
the vote with its ties broken by the model) are chosen by 5-fold cross-validation by item there;
then it is trained on all of them and replayed once on the tuning pool (`pool.jsonl`, 300
items, the routes the default cascade read), beside the vote and the plain chain.

Registered before the pool was replayed: the cascade reads it only if it wins on the pool
by at least 3 items net and its cross-validated gain on the GPU items has p < 0.05.

    python benchmarks/quality_features.py     # results/quality/features.md

Rules that must hold:
- Model code is only tokenized (`quality_signals.code_numbers`), never run; nothing reads a
  reference except the labels and the scoring; no model is loaded.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arguments  # noqa: E402
import quality  # noqa: E402
import quality_signals as signals  # noqa: E402

OUT = quality.RESULTS / "features.md"
TRAIN_SETS = ("probe_routes.jsonl", "probe_routes_800.jsonl")
L2S = (0.01, 0.1, 1.0, 10.0)
RULES = ("top", "vote+ties")
FOLDS = 5
FEATURES = ("reason_votes", "program_votes", "both", "greedy_reason", "greedy_program", "weight",
            "whole", "negative", "given", "log_size", "leaves_out", "unstated", "unran_output", "log_chars")


def _value(answer: str) -> float | None:
    try:
        return float(Fraction(answer))
    except (ValueError, ZeroDivisionError):
        return None


def group_features(question: str, members: list[dict[str, Any]], weight: float) -> list[float]:
    """The features of one answer group (its members are the stored route rows)."""
    answer = members[0]["normalized"]
    value = _value(answer)
    chains = [m for m in members if m["route"] == "reason"]
    programs = [m for m in members if m["route"] == "program"]
    given = value is not None and Fraction(value).limit_denominator(1000) in signals.question_numbers(question)
    return [
        len(chains), len(programs), float(bool(chains) and bool(programs)),
        float(any(m["n"] == 0 for m in members)), float(any(m["n"] == 1 for m in members)), weight,
        float(value is not None and value == int(value)), float(value is not None and value < 0), float(given),
        math.log10(1 + abs(value)) if value is not None else 0.0,
        _share(programs, lambda m: signals.leaves_out(question, m)),
        _share(chains, signals.unstated),
        _share(chains, lambda m: "```output" in m.get("text", "")),
        _mean(math.log(1 + len(m.get("text", ""))) for m in chains),
    ]


def _share(rows: list[dict[str, Any]], test: Any) -> float:
    return sum(map(bool, map(test, rows))) / len(rows) if rows else 0.0


def _mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def decisions(set_name: str, questions: dict[str, str]) -> list[dict[str, Any]]:
    """Per item: the plain chain's and the vote's outcome, and where the greedy routes
    disagree, every group the cascade's routes formed (features, right, vote rank)."""
    from ponder.agent.strategies.cascade import ranked
    from ponder.agent.engine.chain import ChainResult
    from ponder.agent.engine.scaffold import Sample
    from ponder.agent.strategies._tally import same_answers
    from ponder.agent.strategies.cascade import route_of
    from ponder.tools.answers import equivalent, normalize_answer
    from ponder.tools.sandbox import Sandbox

    out = []
    for item_id, routes in signals.by_item(set_name).items():
        question, reference = questions[item_id], routes[0]["reference"]
        replayed = quality.replay_cascade(routes, 6, 4, question)
        if replayed is None:
            continue
        answer, read = replayed
        row = {"id": item_id, "plain": bool(routes[0]["correct"]),
               "vote": bool(answer) and equivalent(answer, reference), "groups": []}
        if len(read) > 2:
            samples = [Sample(n + 1, f"s{n}", ChainResult(answer=normalize_answer(routes[n]["answer"])), route=route_of(n))
                       for n in read]
            for rank, (group, weight) in enumerate(ranked(samples, same_answers(question, Sandbox()))):
                members = [{**routes[s.index - 1], "normalized": s.result.answer.normalized} for s, _ in group.members]
                right = equivalent(members[0]["normalized"], reference)
                row["groups"].append({"x": group_features(question, members, weight), "right": right, "rank": rank,
                                      "weight": weight})
        out.append(row)
    return out


def fit(items: list[dict[str, Any]], l2: float, steps: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A conditional logit over each item's groups (items with one right group), by gradient ascent."""
    usable = [i for i in items if len(i["groups"]) > 1 and any(g["right"] for g in i["groups"])]
    xs = np.array([g["x"] for i in usable for g in i["groups"]], dtype=float)
    mean, scale = xs.mean(0), xs.std(0) + 1e-9
    width = max(len(i["groups"]) for i in usable)
    x = np.zeros((len(usable), width, xs.shape[1]))
    y = np.zeros((len(usable), width))
    mask = np.full((len(usable), width), -np.inf)
    for k, item in enumerate(usable):
        count = len(item["groups"])
        x[k, :count] = (np.array([g["x"] for g in item["groups"]]) - mean) / scale
        y[k, :count] = [g["right"] for g in item["groups"]]
        mask[k, :count] = 0.0
    y /= y.sum(1, keepdims=True)
    w = np.zeros(xs.shape[1])
    for _ in range(steps):
        logits = x @ w + mask
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        grad = np.einsum("igf,ig->f", x, y - p) / len(usable) - l2 * w / len(usable)
        w += 0.5 * grad
    return w, mean, scale


def choose(item: dict[str, Any], model: tuple[np.ndarray, np.ndarray, np.ndarray], rule: str) -> bool:
    """Whether the model's choice among the item's groups is right (the vote's where it chose nothing)."""
    if not item["groups"]:
        return item["vote"]
    w, mean, scale = model
    scores = [float(((np.array(g["x"]) - mean) / scale) @ w) for g in item["groups"]]
    if rule == "top":
        best = max(range(len(scores)), key=lambda k: (scores[k], -item["groups"][k]["rank"]))
    else:
        top = item["groups"][0]["weight"]
        tied = [k for k, g in enumerate(item["groups"]) if g["weight"] == top]
        best = max(tied, key=lambda k: (scores[k], -item["groups"][k]["rank"]))
    return item["groups"][best]["right"]


def cross_validate(items: list[dict[str, Any]], l2: float, rule: str) -> list[bool]:
    """Each item's outcome under a model trained on the other folds."""
    outcome = [False] * len(items)
    for fold in range(FOLDS):
        model = fit([it for k, it in enumerate(items) if k % FOLDS != fold], l2)
        for k, it in enumerate(items):
            if k % FOLDS == fold:
                outcome[k] = choose(it, model, rule)
    return outcome


def versus(new: list[bool], base: list[bool]) -> str:
    """'right of n (won / lost, McNemar p)' against a base on the same items."""
    won = sum(a and not b for a, b in zip(new, base))
    lost = sum(b and not a for a, b in zip(new, base))
    return f"{sum(new)}/{len(new)} ({won} won / {lost} lost, p = {quality.format_p(quality.paired(new, base)['p'])})"


def main() -> None:
    arguments.parser(__doc__).parse_args()
    from ponder.machine import machine_info

    data = filter(None, quality.DATA.read_text(encoding="utf-8").splitlines())
    questions = {row["id"]: row["question"] for row in map(json.loads, data)}
    train = [it for name in TRAIN_SETS for it in decisions(name, questions)]
    order = {item["id"]: k for k, item in enumerate(quality.items(300))}
    pool = sorted(decisions("pool.jsonl", questions), key=lambda it: order[it["id"]])
    vote = [it["vote"] for it in train]
    machine = machine_info()
    lines = ["# A choice model over the cascade's answer groups, against its vote", "",
             f"- date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}; commit: {quality._commit()}; "
             f"machine: {machine['cpu']}, {machine['cores']} cores; model: default (stored routes, no decoding)",
             "- command: `python benchmarks/quality_features.py`",
             f"- training: {len(train)} GPU-written items ({sum(bool(i['groups']) for i in train)} where the greedy routes "
             f"disagree); the vote answers {sum(vote)}, the plain chain {sum(i['plain'] for i in train)}",
             "", "| L2 | rule | 5-fold cross-validation vs the vote |", "|---|---|---|"]
    best = None
    for l2 in L2S:
        for rule in RULES:
            cv = cross_validate(train, l2, rule)
            lines.append(f"| {l2} | {rule} | {versus(cv, vote)} |")
            if best is None or sum(cv) > best[0]:
                best = (sum(cv), l2, rule, cv)
    _, l2, rule, cv = best
    model = fit(train, l2)
    chosen = [choose(it, model, rule) for it in pool]
    pool_vote = [it["vote"] for it in pool]
    lines += ["", f"Chosen: L2 {l2}, rule `{rule}`; cross-validated {versus(cv, vote)}.", "",
              "Weights on all training items (standardized features): "
              + ", ".join(f"{name} {w:+.2f}" for name, w in zip(FEATURES, model[0])), "",
              "| pool (llama.cpp routes) | items | plain chain | vote | choice model | model vs vote |",
              "|---|---|---|---|---|---|"]
    for label, lo, hi in (("tuning 0..149", 0, 150), ("150..299", 150, 300), ("all", 0, 300)):
        part = slice(lo, hi)
        lines.append(f"| {label} | {len(pool[part])} | {sum(i['plain'] for i in pool[part])} | {sum(pool_vote[part])} | "
                     f"{sum(chosen[part])} | {versus(chosen[part], pool_vote[part])} |")
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(OUT.read_text(encoding="utf-8"))


if __name__ == "__main__":
    arguments.run(main)
