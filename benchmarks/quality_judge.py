"""Benchmark (on the quality pool): does the model's own yes/no judgement choose better among
the cascade's answer groups than its vote? A cheap outside signal, tried before shipping one.

For every item whose two greedy routes disagree, the routes the cascade reads at `--samples`
(replayed from the pool, `quality.replay_cascade`) are grouped by equivalent answer. Each
group's representative (its first chain of thought, else its first program) is judged in a
fresh context by the default model, one forward pass, no sampling: P(yes) is the softmax mass
of "Yes"/"yes" against "No"/"no" at the first token of the reply. Two prompts:

- `answer`: the question and the answer alone (the `judge` scorer's own prompts).
- `solution`: the question, the representative's full text (its reasoning or its program)
  and its answer, and "is the final answer correct?".

Scored on the same items: the cascade's vote, the judge alone (highest P(yes)), and the vote
plus lambda x P(yes) for a few lambdas (the vote counts one per route, +1 for a group both
routes reached). Items where the greedy routes agree are left as the cascade answers them.
Prompt tokens evaluated are counted: they are what the judge would cost a live run.

    python benchmarks/quality_judge.py --samples 6

Never run on GSM8K test (the pool holds training problems only).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import arguments  # noqa: E402
from quality import RESULTS, _commit, items, read_pool, replay_cascade  # noqa: E402

SOLUTION_SYSTEM = "You are a careful teacher who checks students' solutions to math word problems."
SOLUTION_USER = """Question: {question}

A student's solution:
{solution}

The student's final answer is {answer}. Check every step against the question. Is the final answer correct? Reply with Yes or No only."""
LAMBDAS = (0.25, 0.5, 1.0, 2.0, 4.0)
AGREEMENT_BONUS = 1.0


class Judge:
    """P(yes) of the default model for a fresh prompt: one forward pass, read at the last token."""

    def __init__(self, model: str) -> None:
        from ponder.llm.llama import LlamaBackend, LoadOptions
        from ponder.llm.registry import resolve_model

        self.backend = LlamaBackend(resolve_model(model), LoadOptions(n_ctx=4096, sequences=1))
        self._llm = self.backend.llm
        self.yes = [self._token(w) for w in ("Yes", "yes")]
        self.no = [self._token(w) for w in ("No", "no")]
        self.evaluated = 0
        self.seconds = 0.0

    def _token(self, word: str) -> int:
        ids = self._llm.tokenize(word.encode(), add_bos=False, special=False)
        if len(ids) != 1:
            raise SystemExit(f"'{word}' is {len(ids)} tokens for this model; the judge needs one")
        return ids[0]

    def p_yes(self, system: str, user: str, opening: str = "") -> float:
        """P(yes) against P(no) for the reply to this prompt."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        prompt = self.backend.chat_prompt(messages) + opening
        tokens = self._llm.tokenize(prompt.encode(), add_bos=False, special=True)
        # The prefix shared with the previous prompt (system, question) stays in the cache.
        keep = min(self._llm.longest_token_prefix(self._llm._input_ids[: self._llm.n_tokens], tokens), len(tokens) - 1)
        began = time.perf_counter()
        self._llm.n_tokens = keep
        self._llm.eval(tokens[keep:])
        self.seconds += time.perf_counter() - began
        self.evaluated += len(tokens) - keep
        # The last token's logits, read from the context: llama-cpp-python keeps none itself.
        logits = np.ctypeslib.as_array(self._llm._ctx.get_logits(), shape=(self._llm.n_vocab(),))
        top = max(float(logits[t]) for t in self.yes + self.no)
        yes = sum(math.exp(float(logits[t]) - top) for t in self.yes)
        no = sum(math.exp(float(logits[t]) - top) for t in self.no)
        return yes / (yes + no)


def groups_of(routes: dict[int, dict[str, Any]], read: list[int]) -> list[dict[str, Any]]:
    """The read routes grouped by equivalent answer, in order of first appearance."""
    from ponder.tools.answers import equivalent

    groups: list[dict[str, Any]] = []
    for n in read:
        row = routes[n]
        if not row["answer"]:
            continue
        home = next((g for g in groups if equivalent(g["answer"], row["answer"])), None)
        if home is None:
            groups.append({"answer": row["answer"], "rows": [row], "correct": row["correct"]})
        else:
            home["rows"].append(row)
    for group in groups:
        routes_in = {r["route"] for r in group["rows"]}
        group["votes"] = len(group["rows"]) + (AGREEMENT_BONUS if routes_in >= {"reason", "program"} else 0.0)
    return groups


def solution_text(row: dict[str, Any]) -> str:
    """What the judge reads of a route: the chain's reasoning, or the program in a code block."""
    text = row["text"].strip()
    return text if row["route"] == "reason" else f"```python\n{text.removeprefix('```python').strip()}\n```"


def representative(group: dict[str, Any]) -> dict[str, Any]:
    """The group's first chain of thought, else its first program."""
    return next((r for r in group["rows"] if r["route"] == "reason"), group["rows"][0])


def judge_groups(judge: Judge, question: str, groups: list[dict[str, Any]]) -> None:
    """Add P(yes) under both prompts to every group."""
    from ponder.thought_factors.catalogue import load_catalogue, render

    prompts = load_catalogue().prompts
    for group in groups:  # one prompt at a time, so that consecutive prompts share their prefix
        user = render(prompts["judge_user"], question=question, answer=group["answer"])
        group["p_answer"] = judge.p_yes(prompts["judge_system"], user, prompts["judge_open"])
    for group in groups:
        user = SOLUTION_USER.format(question=question, solution=solution_text(representative(group)),
                                    answer=group["answer"])
        group["p_solution"] = judge.p_yes(SOLUTION_SYSTEM, user)


def pick(groups: list[dict[str, Any]], key) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """The group with the highest key, the earliest on a tie."""
    return max(groups, key=lambda g: (key(g), -groups.index(g))) if groups else None


def rules() -> dict[str, Any]:
    """Every rule scored: a name and the key it maximizes."""
    out: dict[str, Any] = {"vote (the cascade)": None}
    for prompt in ("answer", "solution"):
        out[f"judge alone ({prompt})"] = lambda g, p=prompt: g[f"p_{p}"]
        for lam in LAMBDAS:
            out[f"vote + {lam} x judge ({prompt})"] = lambda g, p=prompt, lam=lam: g["votes"] + lam * g[f"p_{p}"]
    return out


def main() -> None:
    parser = arguments.parser(__doc__)
    parser.add_argument("--items", type=arguments.positive, default=150)
    parser.add_argument("--samples", type=arguments.positive, default=6)
    parser.add_argument("--parallel", type=arguments.positive, default=4)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    from ponder.tools.answers import equivalent

    pool = read_pool(RESULTS / "pool.jsonl")
    judge = Judge(args.model)
    scored, agreeing_right = [], 0
    for item in items(args.items):
        routes = {n: row for (i, n), row in pool.items() if i == item["id"]}
        replay = replay_cascade(routes, args.samples, args.parallel)
        if replay is None:
            raise SystemExit(f"{item['id']}: the pool lacks a route the cascade reads; collect it first")
        answer, read = replay
        right = bool(answer) and equivalent(answer, routes[0]["reference"])
        if read == [0, 1]:
            agreeing_right += right
            continue
        groups = groups_of(routes, read)
        judge_groups(judge, item["question"], groups)
        scored.append({"id": item["id"], "cascade": right, "groups": groups})
        print(f"{len(scored)} {item['id']}: " + ", ".join(
            f"{g['answer']}{'*' if g['correct'] else ''} v{g['votes']} a{g['p_answer']:.2f} s{g['p_solution']:.2f}"
            for g in groups), file=sys.stderr)
    write(args, scored, agreeing_right, judge)


def write(args: argparse.Namespace, scored: list[dict[str, Any]], agreeing_right: int, judge: Judge) -> None:
    """Print and save the table (results/quality/judge.{json,md})."""
    from ponder.machine import machine_info

    total = args.items
    lines = [f"# The model's yes/no judgement against the cascade's vote (samples={args.samples})", "",
             f"- date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}; commit: {_commit()}; "
             f"machine: {machine_info().get('cpu', '')}; model: {args.model}",
             f"- command: `python benchmarks/quality_judge.py --items {args.items} --samples {args.samples}`",
             f"- items: {total}; past the first two routes: {len(scored)}; the rest answered as the cascade does "
             f"({agreeing_right} right)",
             f"- judge cost: {judge.evaluated} prompt tokens evaluated in {judge.seconds:.0f} s "
             f"({judge.evaluated / max(1, len(scored)):.0f} per judged item), no completion tokens",
             f"- oracle (a group right): {sum(any(g['correct'] for g in s['groups']) for s in scored)}/{len(scored)}",
             "", "| rule | right of the judged items | right of all items |", "|---|---|---|"]
    result: dict[str, Any] = {"rows": []}
    for name, key in rules().items():
        right = sum(s["cascade"] if key is None else bool((g := pick(s["groups"], key)) and g["correct"])
                    for s in scored)
        lines.append(f"| {name} | {right}/{len(scored)} | {right + agreeing_right}/{total} = "
                     f"{(right + agreeing_right) / total:.1%} |")
        result["rows"].append({"rule": name, "right": right, "of": len(scored), "all_right": right + agreeing_right})
    for prompt in ("answer", "solution"):
        good = [g[f"p_{prompt}"] for s in scored for g in s["groups"] if g["correct"]]
        bad = [g[f"p_{prompt}"] for s in scored for g in s["groups"] if not g["correct"]]
        pairs = [(a > b) + 0.5 * (a == b) for a in good for b in bad]
        lines.append(f"- `{prompt}` prompt: mean P(yes) {sum(good) / max(1, len(good)):.3f} on right groups "
                     f"({len(good)}), {sum(bad) / max(1, len(bad)):.3f} on wrong ({len(bad)}); "
                     f"AUC {sum(pairs) / max(1, len(pairs)):.3f}")
    text = "\n".join(lines) + "\n"
    (RESULTS / "judge.md").write_text(text, encoding="utf-8")
    result["items"] = [{"id": s["id"], "cascade": s["cascade"],
                        "groups": [{k: g[k] for k in ("answer", "correct", "votes", "p_answer", "p_solution")}
                                   for g in s["groups"]]} for s in scored]
    result.update(machine=machine_info(), date=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    (RESULTS / "judge.json").write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    arguments.run(main)
