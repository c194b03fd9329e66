"""Benchmark: does thinking pay? Answers of the default model on GSM8K *training* problems,
collected once per route and sample into a resumable pool, then scored as strategies.

`collect` runs, for each item, the cascade's routes exactly as `ponder --strategy cascade`
would (the same prompts, seeds and sandbox, through `engine.routes`): route n = 0 is the
greedy chain of thought (the raw model with the prompt its makers recommend: this *is* the
plain chain-of-thought baseline, no ponder scaffolding), n = 1 the greedy program, and n >= 2
sampled routes at temperature 0.7 with seed 1000*n (even n: chain of thought, odd n:
program). Each finished route is one JSON line, flushed at once, so an interrupted run
resumes where it stopped; routes of neighbouring items are decoded side by side, `--parallel` at a time, continuously
(a slot that finishes one route takes the next), and written in chunks of 4 x `--parallel`.

`report` scores from the pool, on the same items: the plain chain of thought (n = 0), the
greedy program (n = 1), plain self-consistency (`SELF_CONSISTENCY`: the majority of the
greedy chain and k - 1 sampled chains, n = 0, 2, ..., 2k - 2, for k = 3, 4, 8), adaptive
self-consistency (`ADAPTIVE`: the same chains read in order until the first two agree or the
majority is decided: the cascade with a second chain where it has a program), and the cascade with the stopping rule of
`agent/strategies/cascade.py` replayed on the pool (it reads the routes in the order the live
strategy would sample them, so its answer, tokens and routes are what the live run gives).
Accuracy with 95% Wilson intervals, completion tokens (mean and median), and each as a
ratio to the plain chain; a plot of accuracy against tokens.

    python benchmarks/quality.py collect --items 150 --routes 0-1            # the greedy routes
    python benchmarks/quality.py collect --items 150 --routes 2-7 --only-disagreeing   # what the cascade reads
    python benchmarks/quality.py collect --items 150 --routes 2,4,6           # chains for SC k=3, 4
    python benchmarks/quality.py collect --items 150 --routes 8,10,12,14      # chains for SC k=8
    python benchmarks/quality.py report
    # ablation of the samples' temperature: its own pool, seeded with the greedy routes
    grep -E '"n": [01],' benchmarks/results/quality/pool.jsonl > benchmarks/results/quality/pool_t0.5.jsonl
    python benchmarks/quality.py collect --routes 2-3 --only-disagreeing --temperature 0.5 --out benchmarks/results/quality/pool_t0.5.jsonl
    python benchmarks/quality.py report --cascade-samples 2 3 4 --out benchmarks/results/quality/pool_t0.5.jsonl   # report_t0.5.md
    # ablation of the samples' prompt: route 2 a greedy Plan-and-Solve chain, the other routes the main pool's
    grep -E '"n": [01],' benchmarks/results/quality/pool.jsonl > benchmarks/results/quality/pool_plan.jsonl
    python benchmarks/quality.py collect --routes 2 --only-disagreeing --temperature 0 --chain-prompt plan --out benchmarks/results/quality/pool_plan.jsonl
    grep -E '"n": [3-7],' benchmarks/results/quality/pool.jsonl >> benchmarks/results/quality/pool_plan.jsonl
    python benchmarks/quality.py report --out benchmarks/results/quality/pool_plan.jsonl   # report_plan.md
    # worked examples in the chain's prompt (four far-end problems solved by hand): route 2 greedy on every item,
    # read in place of route 2 (report) and, one-off, of route 0 (the results file says how)
    python benchmarks/quality.py collect --items 150 --routes 2 --temperature 0 --chain-prompt fewshot --out benchmarks/results/quality/pool_fewshot_chain.jsonl
    grep -E '"n": [013-7],' benchmarks/results/quality/pool.jsonl >> benchmarks/results/quality/pool_fewshot_chain.jsonl
    python benchmarks/quality.py report --cascade-samples 2 3 4 5 6 --out benchmarks/results/quality/pool_fewshot_chain.jsonl   # report_fewshot_chain.md
    # the question read twice (RE2) by the first two routes, greedy: routes 2 and 3 of their own pool,
    # then quality_reread.py puts them first beside the main pool's samples (not kept: README)
    python benchmarks/quality.py collect --items 300 --routes 2,3 --temperature 0 --chain-prompt reread --program-prompt reread --out benchmarks/results/quality/pool_reread.jsonl
    python benchmarks/quality_reread.py seed
    python benchmarks/quality.py collect --items 300 --routes 2-5 --only-disagreeing --out benchmarks/results/quality/pool_reread_cascade.jsonl
    python benchmarks/quality_reread.py report; python benchmarks/quality_reread.py report --offset 150   # reread.md, reread_from150.md
    # ... and the sampled programs read twice as well (not kept: README)
    grep -E '"n": [0124],' benchmarks/results/quality/pool_reread_cascade.jsonl > benchmarks/results/quality/pool_reread_programs.jsonl
    python benchmarks/quality.py collect --items 300 --routes 3,5 --only-disagreeing --program-prompt reread --out benchmarks/results/quality/pool_reread_programs.jsonl
    python benchmarks/quality_reread.py report --pool benchmarks/results/quality/pool_reread_programs.jsonl   # and --offset 150: reread_programs*.md
    # worked examples chosen for each question (the three nearest training problems by wording, retrieval.py):
    # route 2 greedy where the greedy routes disagree, the other routes the main pool's (not kept: README)
    grep -E '"n": [01],' benchmarks/results/quality/pool.jsonl > benchmarks/results/quality/pool_retrieved.jsonl
    python benchmarks/quality.py collect --items 150 --routes 2 --only-disagreeing --temperature 0 --chain-prompt retrieved --out benchmarks/results/quality/pool_retrieved.jsonl
    grep -E '"n": [3-7],' benchmarks/results/quality/pool.jsonl >> benchmarks/results/quality/pool_retrieved.jsonl
    python benchmarks/quality.py report --items 150 --cascade-samples 2 3 4 5 6 --out benchmarks/results/quality/pool_retrieved.jsonl   # report_retrieved.md
    # ablation of the program's prompt: every program route PAL-style, the chains the main pool's
    # (the chains 2, 4 decoded anew where the new greedy program disagrees and the old did not)
    grep -E '"n": [024],' benchmarks/results/quality/pool.jsonl > benchmarks/results/quality/pool_pal.jsonl
    python benchmarks/quality.py collect --routes 1-5 --only-disagreeing --program-prompt pal --out benchmarks/results/quality/pool_pal.jsonl
    python benchmarks/quality.py report --cascade-samples 2 3 4 5 6 --out benchmarks/results/quality/pool_pal.jsonl   # report_pal.md
    # ablation of few-shot programs (four worked examples in the program's prompt): the greedy program first ...
    grep -E '"n": 0,' benchmarks/results/quality/pool.jsonl > benchmarks/results/quality/pool_fewshot.jsonl
    python benchmarks/quality.py collect --routes 1 --program-prompt fewshot --out benchmarks/results/quality/pool_fewshot.jsonl
    python benchmarks/quality.py report --cascade-samples 2 --out benchmarks/results/quality/pool_fewshot.jsonl   # report_fewshot.md
    # ... then the sampled programs only, beside the main pool's greedy routes and sampled chains
    grep -E '"n": [0124],' benchmarks/results/quality/pool.jsonl > benchmarks/results/quality/pool_fewshot_samples.jsonl
    python benchmarks/quality.py collect --routes 3,5 --only-disagreeing --program-prompt fewshot --out benchmarks/results/quality/pool_fewshot_samples.jsonl
    python benchmarks/quality.py report --cascade-samples 2 3 4 5 6 --out benchmarks/results/quality/pool_fewshot_samples.jsonl   # report_fewshot_samples.md
    # ablation of the samples' nucleus: the model makers' top-p 0.8, top-k 20 (ponder samples at 0.95, 40)
    grep -E '"n": [01],' benchmarks/results/quality/pool.jsonl > benchmarks/results/quality/pool_topp0.8.jsonl
    python benchmarks/quality.py collect --routes 2-3 --only-disagreeing --top-p 0.8 --top-k 20 --out benchmarks/results/quality/pool_topp0.8.jsonl
    python benchmarks/quality.py report --cascade-samples 2 3 4 --out benchmarks/results/quality/pool_topp0.8.jsonl   # report_topp0.8.md
    # a declarative program (the question's facts as sympy equations, solved): route 3 greedy, the other routes the main pool's
    grep -E '"n": [01],' benchmarks/results/quality/pool.jsonl > benchmarks/results/quality/pool_equations.jsonl
    python benchmarks/quality.py collect --routes 3 --only-disagreeing --temperature 0 --program-prompt equations --out benchmarks/results/quality/pool_equations.jsonl
    grep -E '"n": [24-7],' benchmarks/results/quality/pool.jsonl >> benchmarks/results/quality/pool_equations.jsonl
    python benchmarks/quality.py report --cascade-samples 2 3 4 5 6 --out benchmarks/results/quality/pool_equations.jsonl   # report_equations.md
    # a hinted chain (Progressive-Hint Prompting): route 2 greedy, the question followed by the greedy routes' answers
    grep -E '"n": [013-7],' benchmarks/results/quality/pool.jsonl > benchmarks/results/quality/pool_hint.jsonl
    python benchmarks/quality.py collect --items 300 --routes 2 --hint --temperature 0 --out benchmarks/results/quality/pool_hint.jsonl
    python benchmarks/quality.py report --cascade-samples 2 3 4 5 6 --out benchmarks/results/quality/pool_hint.jsonl   # report_hint.md
    python benchmarks/quality_hint.py 0 150; python benchmarks/quality_hint.py 150 150   # the chooser rules: hint.md, hint_from150.md

Never run on GSM8K test: the items are a fixed shuffle of ../shared/data/gsm8k_train.jsonl.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import statistics
import sys
import time
from datetime import datetime, timezone
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

import arguments
from arguments import fraction, offset, positive

RESULTS = Path(__file__).parent / "results" / "quality"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k_train.jsonl"
SHUFFLE_SEED = 2026
SAMPLE_TEMPERATURE = 0.7
SEED_STRIDE = 1000
# Plain self-consistency: the majority of chains of thought alone (no program, no ponder), the
# earliest route winning a tie. A row is reported once the pool has its routes on every item.
SELF_CONSISTENCY = {
    "plain self-consistency k=3 (greedy + 2 sampled chains)": (0, 2, 4),
    "plain self-consistency k=4 (greedy + 3 sampled chains)": (0, 2, 4, 6),
    "plain self-consistency k=8 (greedy + 7 sampled chains)": tuple(range(0, 15, 2)),
}
# Adaptive self-consistency over chains alone (the cascade without its program): the chains of
# a row read in order, stopping once the first two agree or the majority is decided.
ADAPTIVE = {"adaptive self-consistency (chains only, k<=4)": (0, 2, 4, 6)}
# Ablation of the samples' diversity: the sampled chains of thought (routes 2, 4, ...) asked
# with another prompt instead of the model makers' (`--chain-prompt`, into its own pool; with
# `--temperature 0` route 2 becomes a second greedy chain). Plan-and-Solve (PS+, Wang et al.
# 2023), with the makers' request for a boxed answer.
CHAIN_PROMPTS = {
    "plan": "$question\nLet's first understand the problem, extract relevant variables and their corresponding "
            "numerals, and devise a plan. Then, let's carry out the plan, calculate intermediate variables (pay "
            "attention to correct numerical calculation and commonsense), solve the problem step by step, and show "
            "the answer. Put your final answer within \\boxed{}.",
    # Worked examples (few-shot chain of thought): the four far-end training problems of the
    # program's few-shot prompt, each solved by hand in the model's own step-by-step style.
    "fewshot": "Solve the last question. Worked examples come first.\n\n"
               + "\n\n".join(f"Question: {q}\nAnswer: {a}" for q, a in (
                   ("The balance of Pam's bank account tripled during the year. At the end of the year, Pam withdrew "
                    "$$250. If her current balance is $$950, how much did she have in the bank account at the "
                    "beginning of the year?",
                    "Let the balance at the beginning of the year be x. It tripled, so it became 3x. After the "
                    "withdrawal of 250 dollars it is 3x - 250 = 950, so 3x = 1200 and x = 400. She had 400 dollars. "
                    "\\boxed{400}"),
                   ("Isabela bought twice as many cucumbers as pencils, with both costing $$20 each. If she got a "
                    "20% discount on the pencils and bought 100 cucumbers, calculate the total amount she spent to "
                    "buy the items.",
                    "She bought 100 cucumbers, twice as many as pencils, so she bought 100 / 2 = 50 pencils. The "
                    "cucumbers cost 100 * 20 = 2000 dollars. With the 20% discount a pencil costs 20 * 0.8 = 16 "
                    "dollars, so the pencils cost 50 * 16 = 800 dollars. In total she spent 2000 + 800 = 2800 "
                    "dollars. \\boxed{2800}"),
                   ("Marina had 4.5 pounds of fudge. Lazlo had 6 ounces less than 4 pounds of fudge. How many more "
                    "ounces of fudge did Marina have than Lazlo?",
                    "A pound is 16 ounces. Marina had 4.5 * 16 = 72 ounces. Lazlo had 4 * 16 - 6 = 58 ounces. "
                    "Marina had 72 - 58 = 14 more ounces. \\boxed{14}"),
                   ("Harold makes $$2500.00 a month from his job. His rent is $$700.00, his car payment is $$300.00, "
                    "his utilities cost 1/2 the amount of his car payment and he spends $$50.00 on groceries.  He "
                    "wants to put half of the remaining money into a retirement account.  How much money will that "
                    "leave him?",
                    "His utilities cost 300 / 2 = 150 dollars. He spends 700 + 300 + 150 + 50 = 1200 dollars, so "
                    "2500 - 1200 = 1300 dollars remain. Half of it, 1300 / 2 = 650 dollars, goes into the retirement "
                    "account, which leaves him 1300 - 650 = 650 dollars. \\boxed{650}")))
               + "\n\nQuestion: $question\nPlease reason step by step, and put your final answer within \\boxed{}.",
    # Re-reading (RE2, Xu et al. 2024, "Re-Reading Improves Reasoning in Large Language Models"):
    # the question twice, the second time after "Read the question again:", then the makers' request.
    "reread": "$question\nRead the question again: $question\n"
              "Please reason step by step, and put your final answer within \\boxed{}.",
    # Retrieved worked examples: the question after the RETRIEVED nearest training problems by
    # wording, with the training set's solutions (retrieval.py; never a problem any figure is on).
    "retrieved": "Solve the last question. Worked examples come first.\n\n$question\n"
                 "Please reason step by step, and put your final answer within \\boxed{}.",
}
RETRIEVED = 3
# Worked examples for the few-shot program prompt (PAL's few-shot form, Gao et al. 2023): four
# training problems from the far end of the fixed shuffle (positions 7447-7460 of 7,473, never
# among the items any figure is measured on), each with a short program written by hand and
# the training set's answer.
# `$$` is a literal dollar sign in the prompt template.
PROGRAM_EXAMPLES = [
    ("Isabela bought twice as many cucumbers as pencils, with both costing $$20 each. If she got a 20% discount "
     "on the pencils and bought 100 cucumbers, calculate the total amount she spent to buy the items.",
     "cucumbers = 100\npencils = cucumbers / 2\nprice = 20\ncucumber_cost = cucumbers * price\n"
     "pencil_cost = pencils * price * (1 - 20 / 100)\nprint(cucumber_cost + pencil_cost)\n", "2800"),
    ("The balance of Pam's bank account tripled during the year. At the end of the year, Pam withdrew $$250. If "
     "her current balance is $$950, how much did she have in the bank account at the beginning of the year?",
     "current_balance = 950\nwithdrawn = 250\nend_of_year_balance = current_balance + withdrawn\n"
     "beginning_balance = end_of_year_balance / 3\nprint(beginning_balance)\n", "400"),
    ("Marina had 4.5 pounds of fudge. Lazlo had 6 ounces less than 4 pounds of fudge. How many more ounces of "
     "fudge did Marina have than Lazlo?",
     "ounces_per_pound = 16\nmarina_ounces = 4.5 * ounces_per_pound\nlazlo_ounces = 4 * ounces_per_pound - 6\n"
     "print(marina_ounces - lazlo_ounces)\n", "14"),
    ("Harold makes $$2500.00 a month from his job. His rent is $$700.00, his car payment is $$300.00, his utilities "
     "cost 1/2 the amount of his car payment and he spends $$50.00 on groceries.  He wants to put half of the "
     "remaining money into a retirement account.  How much money will that leave him?",
     "income = 2500\nrent = 700\ncar_payment = 300\nutilities = car_payment / 2\ngroceries = 50\n"
     "remaining = income - rent - car_payment - utilities - groceries\nretirement = remaining / 2\n"
     "print(remaining - retirement)\n", "650"),
]
# Ablation of the program's prompt: every program route (1, 3, 5, ...) asked with another
# user message (`--program-prompt`, into its own pool). PAL-style (Gao et al. 2023): each
# quantity a named variable with the words it comes from, each step a commented line, so the
# program reads the question before it computes.
PROGRAM_PROMPTS = {
    # Re-reading (RE2) for the program: the short prompt with the question given twice.
    "reread": "Write a Python program that computes the answer to this question. Use the numbers given in the "
              "question, compute every step in the code, and print only the final answer as a number.\n\n"
              "Question: $question\nRead the question again: $question",
    "pal": "Write a Python program that computes the answer to this question. First assign each quantity given in "
           "the question to a variable with a descriptive name, with a comment quoting the words it comes from. "
           "Then compute each step on its own line, with a comment saying what it computes. Print only the final "
           "answer as a number.\n\nQuestion: $question",
    "fewshot": "Write a Python program that computes the answer to this question. Use the numbers given in the "
               "question, compute every step in the code, and print only the final answer as a number.\n\n"
               + "\n\n".join(f"Question: {q}\n```python\n{code}```" for q, code, _ in PROGRAM_EXAMPLES)
               + "\n\nQuestion: $question",
    # Declarative (He-Yueya et al. 2023, "Solving Math Word Problems by Combining Language Models With
    # Symbolic Solvers"): the program states the question's facts as equations and sympy solves them,
    # so it reads the question another way than the short prompt's step-by-step program.
    "equations": "Write a Python program that answers this question with sympy. Declare an unknown with "
                 "sympy.symbols for each quantity the question does not give, write each fact the question states "
                 "as an equation with sympy.Eq, solve the equations with sympy.solve, and print only the value the "
                 "question asks for as a number.\n\nQuestion: $question",
}


def items(count: int, offset: int = 0) -> list[dict[str, Any]]:
    """`count` training problems from a fixed shuffle (the same on every machine)."""
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    order = list(range(len(rows)))
    random.Random(SHUFFLE_SEED).shuffle(order)
    return [{"id": f"train-{i}", **rows[i]} for i in order[offset: offset + count]]


def parse_routes(spec: str) -> list[int]:
    """'0-7' or '8,10,12' -> route numbers (an argument type: anything else is a usage error)."""
    out: list[int] = []
    for part in filter(None, (part.strip() for part in spec.split(","))):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise argparse.ArgumentTypeError(f"{part!r} is not a route number or a range such as 0-7")
        out += range(int(low), int(high or low) + 1)
    if not out:
        raise argparse.ArgumentTypeError(f"{spec!r} names no route")
    return sorted(set(out))


def read_pool(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """The routes already collected, by (item id, route number); damaged lines are skipped."""
    pool: dict[tuple[str, int], dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                pool[(row["id"], int(row["n"]))] = row
            except (ValueError, KeyError, TypeError):
                continue
    return pool


def pool_by_item(path: Path) -> dict[str, dict[int, dict[str, Any]]]:
    """The routes already collected, by item id, then route number."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for (item_id, n), row in read_pool(path).items():
        out.setdefault(item_id, {})[n] = row
    return out


# -- collect ------------------------------------------------------------------------------

def collect(args: argparse.Namespace) -> None:
    from ponder.agent.engine.calls import drive_together
    from ponder.agent.engine.ids import SpanIds
    from ponder.agent.engine.routes import RouteCall, run_route
    from ponder.agent.settings import ChainConfig
    from ponder.agent.strategies.cascade import route_of
    from ponder.llm.llama import LlamaBackend, LoadOptions
    from ponder.llm.registry import resolve_model
    from ponder.thought_factors.catalogue import load_catalogue

    if args.top_p is not None or args.top_k is not None:  # the sampled routes' nucleus (greedy routes ignore it)
        from functools import partial

        from ponder.agent.engine import routes as routes_module
        from ponder.llm.backend import Sampling

        truncation = {k: v for k, v in (("top_p", args.top_p), ("top_k", args.top_k)) if v is not None}
        routes_module.Sampling = partial(Sampling, **truncation)  # type: ignore[misc]
    backend = LlamaBackend(resolve_model(args.model), LoadOptions(n_ctx=4096, sequences=max(2, args.parallel)))
    catalogue = load_catalogue()
    if args.program_prompt:  # every program route, the greedy one too
        catalogue = replace(catalogue, prompts={**catalogue.prompts, "program_user": PROGRAM_PROMPTS[args.program_prompt]})
    sampled = catalogue  # the catalogue of routes 2+ (another chain prompt in an ablation)
    if args.chain_prompt:
        sampled = replace(catalogue, prompts={**catalogue.prompts, "reason_user": CHAIN_PROMPTS[args.chain_prompt]})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pool = read_pool(args.out)
    wanted = args.routes
    queue = _Tasks(items(args.items, args.offset), wanted, pool, args.only_disagreeing or args.hint)
    chunk = args.parallel * 4  # continuous batching within a chunk: a finished route's slot takes the next
    with open(args.out, "a", encoding="utf-8") as sink:
        while wave := queue.take(chunk):
            ids = SpanIds()
            works = []
            for item, n in wave:
                config = ChainConfig(temperature=0.0 if n < 2 else args.temperature,
                                     seed=SEED_STRIDE * n if n >= 2 else None)
                question = hinted(item["question"], pool, item["id"]) if args.hint and n >= 2 and n % 2 == 0 else item["question"]
                if args.chain_prompt == "retrieved" and n >= 2 and n % 2 == 0:
                    from retrieval import with_examples

                    question = with_examples(item["question"], RETRIEVED)
                at = RouteCall(backend, catalogue if n < 2 else sampled, question, "pool", f"{item['id']}-n{n}", ids)
                works.append(run_route(at, route_of(n), config))
            began = time.perf_counter()
            results = list(_drain(drive_together(backend, works)))[-1]
            seconds = time.perf_counter() - began
            tokens = 0
            for (item, n), result in zip(wave, results):
                row = _row(item, n, route_of(n), result, seconds, len(wave)) | {
                    "temperature": 0.0 if n < 2 else args.temperature, "chain_prompt": args.chain_prompt if n >= 2 else None,
                    "program_prompt": args.program_prompt if n % 2 else None,
                    "hint": (question[len(item["question"]):] or None) if args.hint else None, "top_p": args.top_p if n >= 2 else None,
                    "top_k": args.top_k if n >= 2 else None}
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                sink.flush()
                pool[(item["id"], n)] = row
                tokens += row["completion_tokens"]
            print(f"{queue.items_done()}/{args.items} items, {len(wave)} routes, {tokens} tokens in {seconds:.0f}s "
                  f"({tokens / seconds:.1f}/s): " + ", ".join(
                      f"{item['id']}:{n}:{pool[(item['id'], n)]['answer'] or '-'}" for item, n in wave), file=sys.stderr)


class _Tasks:
    """The routes still to collect, item by item: the greedy routes first; an item's sampled
    routes join (ahead of later items) once its greedy routes are in, and only where they
    disagree when `only_disagreeing`. So an interrupted run leaves whole items behind it."""

    def __init__(self, rows: list[dict[str, Any]], wanted: list[int], pool: dict[tuple[str, int], dict[str, Any]],
                 only_disagreeing: bool) -> None:
        self.rows, self.wanted, self.pool, self.only_disagreeing = iter(rows), wanted, pool, only_disagreeing
        self.ready: list[tuple[dict[str, Any], int]] = []
        self.waiting: list[dict[str, Any]] = []  # items whose sampled routes wait for their greedy ones
        self.total = len(rows)
        self.started = 0

    def take(self, size: int) -> list[tuple[dict[str, Any], int]]:
        """The next routes to decode, at most `size`."""
        self._release()
        while len(self.ready) < size and (row := next(self.rows, None)) is not None:
            self.started += 1
            self.ready += [(row, n) for n in self.wanted if n < 2 and (row["id"], n) not in self.pool]
            self.waiting.append(row)
            self._release()
        wave, self.ready = self.ready[:size], self.ready[size:]
        return wave

    def items_done(self) -> int:
        """Items with every route they need collected."""
        return self.started - len(self.waiting) - len({row["id"] for row, _ in self.ready})

    def _release(self) -> None:
        for row in list(self.waiting):
            if not all((row["id"], n) in self.pool for n in (0, 1) if n in self.wanted):
                continue
            self.waiting.remove(row)
            if self.only_disagreeing and _greedy_agree(self.pool, row["id"]):
                continue  # the cascade reads no more routes here
            self.ready[:0] = [(row, n) for n in self.wanted if n >= 2 and (row["id"], n) not in self.pool]


def hinted(question: str, pool: dict[tuple[str, int], dict[str, Any]], item_id: str) -> str:
    """The question with Progressive-Hint Prompting's hint (Zheng et al. 2023): the distinct
    answers of the item's greedy routes, in numeric order so neither route is named first."""
    answers = sorted({row["answer"] for n in (0, 1) if (row := pool.get((item_id, n))) and row["answer"]},
                     key=_numeric)
    return f"{question} (Hint: The answer is near to {', '.join(answers)}.)" if answers else question


def _numeric(answer: str) -> tuple[float, str]:
    try:
        return float(answer.replace(",", "")), answer
    except ValueError:
        return math.inf, answer


def _greedy_agree(pool: dict[tuple[str, int], dict[str, Any]], item_id: str) -> bool:
    from ponder.tools.answers import equivalent

    first, second = pool.get((item_id, 0)), pool.get((item_id, 1))
    return bool(first and second and first["answer"] and second["answer"]
                and equivalent(first["answer"], second["answer"]))


def _drain(work):  # type: ignore[no-untyped-def]
    """Run engine work to its end, discarding its events; yield its result last."""
    while True:
        try:
            next(work)
        except StopIteration as stop:
            yield stop.value
            return


def _row(item: dict[str, Any], n: int, route: str, result: Any, seconds: float, wave: int) -> dict[str, Any]:
    from ponder.batch.metrics import gsm8k_reference
    from ponder.tools.answers import equivalent

    reference = gsm8k_reference(item["answer"])
    answer = result.answer.normalized
    return {"id": item["id"], "n": n, "route": route, "answer": answer, "reference": reference,
            "correct": bool(answer) and equivalent(answer, reference), "verified": result.verified,
            "completion_tokens": result.completion_tokens, "wave_seconds": round(seconds, 2), "wave": wave,
            "text": result.transcript.split("<|im_start|>assistant\n")[-1][-4000:]}


# -- report -------------------------------------------------------------------------------

def wilson(correct: int, total: int) -> tuple[float, float]:
    """95% Wilson interval of a proportion."""
    if total == 0:
        return 0.0, 0.0
    z, p = 1.96, correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def majority(rows: Iterable[dict[str, Any]]) -> str:
    """The most frequent answer (equivalence-grouped), the earliest on a tie; '' if none."""
    groups = _groups(row["answer"] for row in rows)
    return max(groups, key=len)[0] if groups else ""


def adaptive(routes: dict[int, dict[str, Any]], ns: tuple[int, ...]) -> tuple[str, list[int]]:
    """Adaptive self-consistency: the answer of routes `ns` read in order, stopping once the
    first two agree or no later route could change the majority; and the routes read."""
    read = list(ns[:2])
    first = _groups(routes[n]["answer"] for n in read)
    if len(first) == 1 and len(first[0]) == 2:
        return first[0][0], read
    while len(read) < len(ns):
        counts = sorted((len(g) for g in _groups(routes[n]["answer"] for n in read)), reverse=True) or [0]
        if counts[0] > (counts[1] if len(counts) > 1 else 0) + len(ns) - len(read):
            break
        read.append(ns[len(read)])
    return majority(routes[n] for n in read), read


def _groups(answers: Iterable[str]) -> list[list[str]]:
    """Answers grouped by equivalence, in order of first appearance; empty answers left out."""
    from ponder.tools.answers import equivalent

    groups: list[list[str]] = []
    for answer in answers:
        if not answer:
            continue
        home = next((g for g in groups if equivalent(g[0], answer)), None)
        if home is None:
            groups.append([answer])
        else:
            home.append(answer)
    return groups


def replay_cascade(routes: dict[int, dict[str, Any]], samples: int, parallel: int,
                   question: str = "", order: list[int] | None = None) -> tuple[str, list[int]] | None:
    """What the live cascade answers from these routes to `question`, and which routes it read
    (None when the pool lacks a route it would need). `order` is another schedule: the run's
    nth route is the pool's route order[n], a chain or a program by that number's parity
    ([0, 1, 3, 5] samples two programs after the first wave); by default the pool's own order."""
    from ponder.agent.engine.chain import ChainResult
    from ponder.agent.engine.scaffold import Sample
    from ponder.agent.engine.routes import PROGRAM, in_words
    from ponder.agent.strategies._tally import same_answers
    from ponder.agent.strategies.cascade import FIRST_WAVE, _agree, _representative, covered, decided, ranked, route_of
    from ponder.tools.answers import normalize_answer
    from ponder.tools.questions import asks_for_each, asks_which_number
    from ponder.tools.sandbox import Sandbox

    total = max(FIRST_WAVE, samples)
    order = list(range(total)) if order is None else order
    if len(order) < total or order[:FIRST_WAVE] != list(range(FIRST_WAVE)):
        raise ValueError(f"a schedule starts with the greedy routes and names at least {total}: {order}")

    def sample(k: int) -> Sample:
        n = order[k]
        row = routes[n]
        result = ChainResult(answer=normalize_answer(row["answer"]) if row["answer"] else normalize_answer(""))
        return Sample(k + 1, f"s{n}", result, route=route_of(n))

    if any(n not in routes for n in range(FIRST_WAVE)):
        return None
    read, same = [sample(0), sample(1)], same_answers(question, Sandbox())
    first, each = PROGRAM if asks_which_number(question) else None, asks_for_each(question)
    if not _agree(read, same) and not covered(read, question) and not in_words(read[0].result.answer):
        while len(read) < total and not decided(ranked(read, same, each=each), total - len(read), each):
            size = min(parallel, total - len(read))
            wave = range(len(read), len(read) + size)
            if any(order[k] not in routes for k in wave):
                return None
            read += [sample(k) for k in wave]
    groups = ranked(read, same, first, each)
    answer = _representative(groups[0][0]).result.answer.normalized if groups else ""
    return answer, [order[s.index - 1] for s in read]


def format_p(p: float) -> str:
    """A two-sided p-value as printed: below the fourth decimal it reads < 0.0001, never 0."""
    return "< 0.0001" if p < 0.0001 else str(p)


def score(name: str, outcomes: list[tuple[bool, int]]) -> dict[str, Any]:
    correct = sum(ok for ok, _ in outcomes)
    tokens = [t for _, t in outcomes]
    low, high = wilson(correct, len(outcomes))
    return {"name": name, "items": len(outcomes), "correct": correct, "accuracy": correct / max(1, len(outcomes)),
            "ci95": [round(low, 3), round(high, 3)], "mean_tokens": round(statistics.mean(tokens), 1) if tokens else 0,
            "median_tokens": statistics.median(tokens) if tokens else 0, "outcomes": [ok for ok, _ in outcomes]}


def paired(row: list[bool], base: list[bool]) -> dict[str, Any]:
    """Items this row answers right and the plain chain wrong (wins), the reverse (losses), and
    the exact two-sided McNemar p-value of that split (the same items, in the same order)."""
    wins = sum(r and not b for r, b in zip(row, base))
    losses = sum(b and not r for r, b in zip(row, base))
    n = wins + losses
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2 ** n if n else 1.0
    return {"wins": wins, "losses": losses, "p": round(min(1.0, 2 * tail), 4)}


def report(args: argparse.Namespace) -> None:
    from ponder.tools.answers import equivalent

    by_item = pool_by_item(args.out)
    questions = {it["id"]: it["question"] for it in items(args.items, args.offset) if it["id"] in by_item}
    order = list(questions)
    # Every row is scored on the same items: those with every route each configuration reads
    # (an item whose sampled routes are still being collected is left out, not half-scored).
    complete = [i for i in order if 0 in by_item[i] and 1 in by_item[i]
                and all(replay_cascade(by_item[i], k, args.parallel, questions[i]) is not None
                        for k in args.cascade_samples)]
    rows = []
    refs = {i: by_item[i][0]["reference"] for i in complete}

    def tokens(i: str, ns: Iterable[int]) -> int:
        return sum(by_item[i][n]["completion_tokens"] for n in ns)

    rows.append(score("plain chain of thought (greedy, no ponder)",
                      [(by_item[i][0]["correct"], tokens(i, [0])) for i in complete]))
    rows.append(score("program (greedy)", [(by_item[i][1]["correct"], tokens(i, [1])) for i in complete]))
    for name, ns in SELF_CONSISTENCY.items():
        if all(n in by_item[i] for i in complete for n in ns):
            answers = {i: majority(by_item[i][n] for n in ns) for i in complete}
            rows.append(score(name, [(bool(answers[i]) and equivalent(answers[i], refs[i]), tokens(i, ns))
                                     for i in complete]))
    for name, ns in ADAPTIVE.items():
        if all(n in by_item[i] for i in complete for n in ns):
            read = {i: adaptive(by_item[i], ns) for i in complete}
            rows.append(score(name, [(bool(a) and equivalent(a, refs[i]), tokens(i, used)) for i, (a, used) in read.items()]))
    for samples in args.cascade_samples:
        replays = {i: replay_cascade(by_item[i], samples, args.parallel, questions[i]) for i in complete}
        if all(r is not None for r in replays.values()):
            rows.append(score(f"cascade (samples={samples}, parallel={args.parallel})",
                              [(bool(r[0]) and equivalent(r[0], refs[i]), tokens(i, r[1]))
                               for i, r in replays.items() if r is not None]))
    base = rows[0]
    for row in rows:
        row["accuracy_minus_plain"] = round(row["accuracy"] - base["accuracy"], 3)
        row["median_tokens_ratio"] = round(row["median_tokens"] / max(1, base["median_tokens"]), 2)
        row["vs_plain"] = paired(row["outcomes"], base["outcomes"])
    for row in rows:
        del row["outcomes"]
    agree = [i for i in complete if by_item[i][0]["answer"] and by_item[i][1]["answer"]
             and equivalent(by_item[i][0]["answer"], by_item[i][1]["answer"])]
    result = {
        "benchmark": "quality",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "data": f"{DATA.name}, fixed shuffle (seed {SHUFFLE_SEED}), the {len(complete)} items with every route read "
                f"among items {args.offset}..{args.offset + args.items - 1}",
        "items": len(complete),
        "greedy_routes_agree": {"items": len(agree), "correct": sum(by_item[i][0]["correct"] for i in agree)},
        "rows": rows,
    }
    from ponder.machine import machine_info

    result["machine"] = machine_info()
    # pool_t0.5.jsonl -> report_t0.5.md; items from an offset -> report_from150.md (the main report stays)
    suffix = args.out.stem.removeprefix("pool") + (f"_from{args.offset}" if args.offset else "")
    (args.out.parent / f"report{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out.parent / f"report{suffix}.md").write_text(markdown(result))
    _plot(result, args.out.parent / f"accuracy_vs_tokens{suffix}.png")
    print((args.out.parent / f"report{suffix}.md").read_text())


def _commit() -> str:
    """The repository's commit (with `+changes` when the tree differs), or '' outside git."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return ""
    return head + ("+changes" if dirty else "")


def markdown(result: dict[str, Any]) -> str:
    agree = result["greedy_routes_agree"]
    lines = [
        "# Quality: accuracy against tokens on GSM8K training problems",
        "",
        f"- date: {result['date']}; commit: {result.get('commit') or '?'}; machine: {result['machine']['cpu']}, "
        f"{result['machine']['cores']} cores",
        f"- data: {result['data']}",
        f"- command: `{result['command']}`",
        f"- the greedy chain of thought and the greedy program agreed on {agree['items']} items, "
        f"{agree['correct']} of them right",
        "",
        "| configuration | accuracy | 95% CI | vs plain | wins / losses vs plain (McNemar p) | mean tokens "
        "| median tokens | median tokens / plain |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['name']} | {r['correct']}/{r['items']} = {r['accuracy']:.1%} | "
                     f"{r['ci95'][0]:.1%}–{r['ci95'][1]:.1%} | {r['accuracy_minus_plain']:+.1%} | "
                     f"{r['vs_plain']['wins']} / {r['vs_plain']['losses']} (p = {format_p(r['vs_plain']['p'])}) | {r['mean_tokens']} | "
                     f"{r['median_tokens']} | {r['median_tokens_ratio']}× |")
    return "\n".join(lines) + "\n"


def _plot(result: dict[str, Any], path: Path) -> None:
    """Accuracy (95% interval) against mean tokens: one series per family of rows (the cascade's
    points joined and labelled by their samples), a legend instead of labels that collide."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axes = plt.subplots(figsize=(8, 4.8))
    families: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for row in result["rows"]:
        family, point = _family(row["name"])
        families.setdefault(family, []).append((point, row))
    for family, members in families.items():
        points, rows = [p for p, _ in members], [r for _, r in members]
        xs, ys = [r["mean_tokens"] for r in rows], [r["accuracy"] for r in rows]
        errors = [[y - r["ci95"][0] for y, r in zip(ys, rows)], [r["ci95"][1] - y for y, r in zip(ys, rows)]]
        label = f"{family} ({points[0]}–{points[-1].split('=')[1]})" if len(rows) > 1 else rows[0]["name"]
        axes.errorbar(xs, ys, yerr=errors, fmt="o-" if len(rows) > 1 else "o", capsize=3, label=label)
        for x, y, point in zip(xs, ys, points):
            if len(rows) > 1:
                axes.annotate(point, (x, y), fontsize=7, xytext=(4, 4), textcoords="offset points")
    axes.set_xlabel("completion tokens per question (mean)")
    axes.set_ylabel("accuracy (95% interval)")
    axes.set_title(f"GSM8K training items ({result['items']}), default model")
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def _family(name: str) -> tuple[str, str]:
    """A row's series and its point in it: 'cascade' and 'samples=6', 'plain self-consistency' and 'k=4'."""
    if match := re.match(r"(.*?) \(?((?:samples|k)=\d+)", name):
        return match[1], match[2]
    return name, ""


def main() -> None:
    parser = arguments.parser(__doc__)
    parser.add_argument("command", choices=("collect", "report"))
    parser.add_argument("--items", type=positive, default=150)
    parser.add_argument("--offset", type=offset, default=0)
    parser.add_argument("--routes", type=parse_routes, default=[0, 1], help="route numbers to collect: 0-7 or 2,4,6")
    parser.add_argument("--parallel", type=positive, default=4)
    parser.add_argument("--only-disagreeing", action="store_true",
                        help="collect routes 2+ only where the greedy routes disagree (all the cascade reads)")
    parser.add_argument("--cascade-samples", type=positive, nargs="*", default=[2, 3, 4, 5, 6, 7, 8])
    parser.add_argument("--temperature", type=float, default=SAMPLE_TEMPERATURE,
                        help="temperature of the sampled routes (an ablation: collect into its own --out)")
    parser.add_argument("--chain-prompt", choices=sorted(CHAIN_PROMPTS),
                        help="ask the sampled chains (routes 2, 4, ...) with this prompt (an ablation: its own --out)")
    parser.add_argument("--program-prompt", choices=sorted(PROGRAM_PROMPTS),
                        help="ask every program route (1, 3, ...) with this prompt (an ablation: its own --out)")
    parser.add_argument("--top-p", type=fraction, help="nucleus of the sampled routes (default: ponder's 0.95; an ablation)")
    parser.add_argument("--top-k", type=positive, help="top-k of the sampled routes (default: ponder's 40; an ablation)")
    parser.add_argument("--hint", action="store_true",
                        help="ask the sampled chains with the greedy routes' answers as a hint, PHP-style, where "
                             "those disagree (an ablation: its own --out)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", type=arguments.file_to_write, default=RESULTS / "pool.jsonl")
    args = parser.parse_args()
    if args.command == "report" and not args.out.is_file():
        parser.error(f"argument --out: no pool at {str(args.out)!r} to report on (collect it first)")
    collect(args) if args.command == "collect" else report(args)


if __name__ == "__main__":
    arguments.run(main)
