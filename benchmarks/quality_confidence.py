"""Token confidence as evidence: does weighing the cascade's votes by how sure the model was
of its own tokens choose better among disagreeing routes than the plain vote?

Two steps, both on the CPU with the default model:

    python benchmarks/quality_confidence.py score --items 150              # the tuning items
    python benchmarks/quality_confidence.py evaluate --items 150           # confidence.{json,md}
    python benchmarks/quality_confidence.py score --offset 150 --items 150 # then out of sample
    python benchmarks/quality_confidence.py evaluate --items 300

`score` reads every pool route of the items where the two greedy routes disagree (the only
items where a vote decides) under the model once more, its prompt rebuilt exactly as ponder
builds it, and records per route what the live run could know from its own logits: the mean
top-token probability (ponder's `mean_confidence`), the mean log-probability of the tokens
written, the lowest mean top-token probability over any window of 16 tokens (DeepConf's
"lowest group confidence", Fu et al. 2025), and the mean over the last 32 tokens. One JSON
line per route into `results/quality/confidence_routes.jsonl`, flushed at once, so it resumes.

`evaluate` replays, on each item, the routes the default cascade reads (its own stopping rule)
and chooses among them by each rule, beside the plain chain and the vote; the rules are chosen
on the tuning items (0..149) and read once on the items after them.

Rules that must hold: nothing here looks at a reference answer before the choice is made;
results carry date, commit, machine and command.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arguments  # noqa: E402
import quality  # noqa: E402
from quality_probe import _grouped, _prompter  # noqa: E402

RESULTS = quality.RESULTS
ROUTES = RESULTS / "confidence_routes.jsonl"
WINDOW = 16
TAIL = 32
TUNING = 150


def _disagreeing(by_item: dict[str, dict[int, dict[str, Any]]], ids: list[str]) -> list[str]:
    from ponder.tools.answers import equivalent

    def agree(routes: dict[int, dict[str, Any]]) -> bool:
        a, b = routes[0]["answer"], routes[1]["answer"]
        return bool(a and b and equivalent(a, b))

    return [i for i in ids if i in by_item and 0 in by_item[i] and 1 in by_item[i] and not agree(by_item[i])]


def features(top: list[float], chosen: list[float]) -> dict[str, float]:
    """Confidence features of one route from its tokens' top probabilities and log-probabilities."""
    n = len(top)
    windows = [sum(top[i:i + WINDOW]) / WINDOW for i in range(max(1, n - WINDOW + 1))] if n >= WINDOW else [sum(top) / max(1, n)]
    tail = top[-TAIL:]
    return {"tokens": n, "mean_top": round(sum(top) / max(1, n), 5),
            "mean_logp": round(sum(chosen) / max(1, n), 5),
            "min_window": round(min(windows), 5), "tail": round(sum(tail) / max(1, len(tail)), 5)}


def score(args: argparse.Namespace) -> None:
    """Read each disagreeing item's pool routes under the model once and record their confidence."""
    import numpy as np
    from llama_cpp import Llama

    from ponder.llm.registry import resolve_model

    prompt = _prompter()
    pool = quality.read_pool(RESULTS / "pool.jsonl")
    by_item = _grouped(list(pool.values()))
    chosen_items = quality.items(args.items, args.offset)
    questions = {it["id"]: it["question"] for it in chosen_items}
    done = {(r["id"], r["n"]) for r in map(json.loads, ROUTES.read_text(encoding="utf-8").splitlines())} if ROUTES.exists() else set()
    llm = Llama(str(resolve_model("default")), n_ctx=2048, n_batch=512, logits_all=True, verbose=False,
                n_threads=args.threads)
    wanted = {i: quality.replay_cascade(by_item[i], 6, 4) for i in _disagreeing(by_item, list(questions))}
    todo = sorted(((i, n) for i, replay in wanted.items() if replay for n in replay[1] if (i, n) not in done),
                  key=lambda key: (key[0], by_item[key[0]][key[1]]["route"], key[1]))
    print(f"{len(todo)} routes to read (those the default cascade reads)", file=sys.stderr)
    last_head: list[int] = []
    with open(ROUTES, "a", encoding="utf-8") as sink:
        for k, (item_id, n) in enumerate(todo):
            row = by_item[item_id][n]
            text = prompt(row["route"], questions[item_id])
            opening = text.split("<|im_start|>assistant\n")[-1]  # the program's fence is in both
            head = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            body = llm.tokenize(row["text"].removeprefix(opening).encode("utf-8"), add_bos=False, special=False)
            if head == last_head:  # the same prompt as the route before: its cache and logits stand
                llm.n_tokens = len(head)
                llm.eval(body)
            else:
                llm.reset()
                llm.eval(head + body)
            last_head = head
            logits = np.array(llm.scores[len(head) - 1: len(head) + len(body) - 1], dtype=np.float32)
            chosen_logit = logits[np.arange(len(body)), body]
            peak = logits.max(axis=1)
            logits -= peak[:, None]
            np.exp(logits, out=logits)
            log_z = np.log(logits.sum(axis=1, dtype=np.float64)) + peak
            top = np.exp(peak - log_z)
            chosen = chosen_logit - log_z
            sink.write(json.dumps({"id": item_id, "n": n, "route": row["route"], "correct": row["correct"],
                                   **features(top.tolist(), chosen.tolist())}) + "\n")
            sink.flush()
            if k % 20 == 0:
                print(f"{k + 1}/{len(todo)}", file=sys.stderr)


Weight = Callable[[dict[str, Any]], float]
RULES: dict[str, tuple[str, Weight]] = {
    "vote (the default)": ("weighted", lambda c: 1.0),
    "x mean top-token probability": ("weighted", lambda c: c["mean_top"]),
    "x mean top-token probability ^ 4": ("weighted", lambda c: c["mean_top"] ** 4),
    "x exp(mean log-probability)": ("weighted", lambda c: math.exp(c["mean_logp"])),
    "x lowest 16-token window": ("weighted", lambda c: c["min_window"]),
    "x lowest 16-token window ^ 4": ("weighted", lambda c: c["min_window"] ** 4),
    "x last 32 tokens": ("weighted", lambda c: c["tail"]),
    "vote, ties by mean top-token probability": ("ties", lambda c: c["mean_top"]),
    "vote, ties by lowest window": ("ties", lambda c: c["min_window"]),
    "vote, ties by mean log-probability": ("ties", lambda c: c["mean_logp"]),
}


def choose(routes: dict[int, dict[str, Any]], read: list[int], conf: dict[int, dict[str, Any]], rule: str) -> str:
    """The answer `rule` picks among the routes read: the cascade's vote (both routes' bonus of 1
    kept) with each route weighted, or with ties broken by the group's mean feature."""
    kind, weight = RULES[rule]
    groups = quality._groups(routes[n]["answer"] for n in read)
    if not groups:
        return ""
    members = [[n for n in read if routes[n]["answer"] and routes[n]["answer"] in g] for g in groups]
    bonus = [1.0 if len({routes[n]["route"] for n in ns}) == 2 else 0.0 for ns in members]
    if kind == "ties":
        key = [(len(ns) + b, sum(weight(conf[n]) for n in ns) / len(ns)) for ns, b in zip(members, bonus)]
    else:
        key = [(sum(weight(conf[n]) for n in ns) + b, 0.0) for ns, b in zip(members, bonus)]
    return groups[max(range(len(groups)), key=lambda g: (key[g], len(members[g]), -min(members[g])))][0]


def evaluate(args: argparse.Namespace) -> None:
    """Each rule against the vote and the plain chain, on the tuning items and after them."""
    from ponder.machine import machine_info
    from ponder.tools.answers import equivalent

    if not ROUTES.exists():
        sys.exit(f"{ROUTES.name} does not exist: run `score` first")
    pool = quality.read_pool(RESULTS / "pool.jsonl")
    by_item = _grouped(list(pool.values()))
    conf: dict[str, dict[int, dict[str, Any]]] = {}
    for r in map(json.loads, ROUTES.read_text(encoding="utf-8").splitlines()):
        conf.setdefault(r["id"], {})[r["n"]] = r
    ids = [it["id"] for it in quality.items(args.items)]
    slices = {"tuning 0..149": ids[:TUNING]}
    if len(ids) > TUNING:
        slices.update({f"out of sample 150..{len(ids) - 1}": ids[TUNING:], f"all {len(ids)}": ids})
    table = []
    for name, part in slices.items():
        part = [i for i in part if i in by_item and quality.replay_cascade(by_item[i], 6, 4)]
        if not part:
            continue
        replays = {i: quality.replay_cascade(by_item[i], 6, 4) for i in part}
        missing = [i for i in part if len(replays[i][1]) > 2 and any(n not in conf.get(i, {}) for n in replays[i][1])]
        if missing:
            print(f"{name}: {len(missing)} items lack confidences (score them first)", file=sys.stderr)
            continue
        ref = {i: by_item[i][0]["reference"] for i in part}

        def right(answer: str, i: str) -> bool:
            return bool(answer) and equivalent(answer, ref[i])

        plain = [bool(by_item[i][0]["correct"]) for i in part]
        vote = [right(replays[i][0], i) for i in part]
        best = [any(by_item[i][n]["correct"] for n in replays[i][1]) for i in part]
        for rule in RULES:
            outcome = [right(choose(by_item[i], replays[i][1], conf[i], rule) if len(replays[i][1]) > 2 else replays[i][0], i)
                       for i in part]
            table.append({"slice": name, "items": len(part), "rule": rule, "right": sum(outcome),
                          "plain": sum(plain), "vote": sum(vote), "best_of_read": sum(best),
                          "vs_vote": quality.paired(outcome, vote), "vs_plain": quality.paired(outcome, plain)})
    result = {"date": quality.datetime.now(quality.timezone.utc).isoformat(timespec="seconds"),
              "commit": quality._commit(), "machine": machine_info(), "command": "python " + " ".join(sys.argv),
              "model": "default (Qwen2.5-Coder-1.5B-Instruct Q4_K_M)", "auc": _aucs(by_item, conf), "rows": table}
    out = RESULTS / "confidence.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


def _aucs(by_item, conf) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Per feature: route-level AUC, and within-item AUC (right vs wrong routes of one item)."""
    out = {}
    for feature in ("mean_top", "mean_logp", "min_window", "tail"):
        routes = [(c[feature], c["correct"]) for item in conf.values() for c in item.values()
                  if by_item[c["id"]][c["n"]]["answer"]]
        out[feature] = {"route_auc": round(_auc(routes), 3),
                        "within_item_auc": round(_within(conf, by_item, feature), 3)}
    return out


def _auc(pairs: list[tuple[float, bool]]) -> float:
    right = [s for s, ok in pairs if ok]
    wrong = [s for s, ok in pairs if not ok]
    wins = sum((a > b) + 0.5 * (a == b) for a in right for b in wrong)
    return wins / max(1, len(right) * len(wrong))


def _within(conf, by_item, feature: str) -> float:  # type: ignore[no-untyped-def]
    wins = pairs = 0.0
    for item_id, routes in conf.items():
        answered = [c for n, c in routes.items() if by_item[item_id][n]["answer"]]
        right = [c[feature] for c in answered if c["correct"]]
        wrong = [c[feature] for c in answered if not c["correct"]]
        wins += sum((a > b) + 0.5 * (a == b) for a in right for b in wrong)
        pairs += len(right) * len(wrong)
    return wins / pairs if pairs else float("nan")


def markdown(result: dict[str, Any]) -> str:
    """The results as a Markdown page."""
    lines = ["# Token confidence as evidence, against the cascade's vote", "",
             f"- date: {result['date']}; commit: {result['commit']}; machine: {_machine(result['machine'])}",
             f"- command: `{result['command']}`; model: {result['model']}",
             "- each route of the items where the greedy routes disagree read once more under the model; the rule chooses "
             "among the routes the default cascade read (its own stopping rule), so it changes an answer only there",
             "- decision: a rule is kept only if it beats the vote on the tuning items (0..149); the items after them "
             "are read once, for the record", "",
             "| feature | route AUC | within-item AUC |", "|---|---|---|"]
    lines += [f"| {f} | {a['route_auc']} | {a['within_item_auc']} |" for f, a in result["auc"].items()]
    lines += ["", "| items | rule | right | plain chain | vote | best of the routes read | vs vote | vs plain |",
              "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['slice']} ({r['items']}) | {r['rule']} | {r['right']} | {r['plain']} | {r['vote']} | "
                     f"{r['best_of_read']} | {r['vs_vote']['wins']}/{r['vs_vote']['losses']} (p {quality.format_p(r['vs_vote']['p'])}) | "
                     f"{r['vs_plain']['wins']}/{r['vs_plain']['losses']} (p {quality.format_p(r['vs_plain']['p'])}) |")
    return "\n".join(lines) + "\n"


def _machine(info: dict[str, Any]) -> str:
    return f"{info.get('cpu', '?')}, {info.get('cores', '?')} cores, llama-cpp-python {info.get('llama_cpp_python', '?')}"


def main() -> None:
    parser = arguments.parser(__doc__)
    sub = parser.add_subparsers(dest="step", required=True)
    s = sub.add_parser("score", help="read the disagreeing items' routes under the model")
    s.add_argument("--items", type=arguments.positive, default=150)
    s.add_argument("--offset", type=arguments.offset, default=0)
    s.add_argument("--threads", type=arguments.positive, default=2)
    e = sub.add_parser("evaluate", help="replay the rules on the scored items")
    e.add_argument("--items", type=arguments.positive, default=300)
    args = parser.parse_args()
    {"score": score, "evaluate": evaluate}[args.step](args)


if __name__ == "__main__":
    arguments.run(main)
