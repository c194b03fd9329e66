"""Benchmark: n continuations decoded together in one llama.cpp context against the same n
decoded one after another, on the same loaded model, in the same process.

Part 1, throughput: for n = 1, 2, 4, 8, the same prompt sampled n times at temperature 0.8
(distinct seeds, the same token cap), once with `stream_many` (one decode per step for every
live sequence, the prompt evaluated once) and once as n sequential `stream` calls; the two
orders alternate between trials so machine drift favours neither. Reported: aggregate decode
tokens/s of each, their ratio, and the prompt tokens llama.cpp evaluated per wave.

Part 2, vote: `vote -n 5` on GSM8K training problems with `--parallel 1` (today's sequential
vote) and with waves of `--parallel P`, same seeds, same items: wall time and accuracy.

    python benchmarks/parallel_sampling.py [--tokens 96] [--trials 3] [--items 4] [--parallel 4]

Writes benchmarks/results/parallel_sampling.json and .md (machine, date, model, command).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arguments  # noqa: E402

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k_train.jsonl"
QUESTION = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
            "How many clips did Natalia sell altogether in April and May?")
SIZES = (1, 2, 4, 8)


def perf(backend) -> int:
    """Tokens llama.cpp has evaluated in this context so far (its own counters, every batch)."""
    import llama_cpp

    data = llama_cpp.llama_perf_context(backend.llm.ctx)
    return int(data.n_p_eval + data.n_eval)


def cold(backend) -> None:
    """Forget every cached sequence, so each trial evaluates its prompt from scratch."""
    backend.forget()


def samplings(n: int, tokens: int):
    from ponder.llm.backend import Sampling

    return [Sampling(temperature=0.8, seed=100 + i, max_tokens=tokens) for i in range(n)]


def together(backend, prompt: str, n: int, tokens: int) -> dict:
    """One wave of n sequences: aggregate tokens/s after the prompt, prompt tokens evaluated."""
    from ponder.llm.backend import SeqDone, sample_n

    cold(backend)
    before = perf(backend)
    start = time.perf_counter()
    first = None
    done = []
    for item in sample_n(backend, prompt, samplings(n, tokens)):
        if first is None:
            first = time.perf_counter()
        if isinstance(item, SeqDone):
            done.append(item.completion)
    end = time.perf_counter()
    generated = sum(c.completion_tokens for c in done)
    # every generated token but each sequence's last is decoded, plus each prompt's last token
    return {"tokens": generated, "seconds": end - start, "decode_seconds": end - first,
            "rate": generated / (end - first), "prompt_evaluated": perf(backend) - before - generated,
            "reported_prompt_evaluated": sum(c.prompt_tokens_evaluated for c in done)}


def in_turn(backend, prompt: str, n: int, tokens: int) -> dict:
    """The same n samples, one `stream` after another, each from a cold cache."""
    from ponder.llm.backend import Completion

    generated, decode, total, evaluated = 0, 0.0, 0.0, 0
    for sampling in samplings(n, tokens):
        cold(backend)
        before = perf(backend)
        start = time.perf_counter()
        first = None
        tokens = 0
        for item in backend.stream(prompt, sampling):
            if first is None:
                first = time.perf_counter()
            if isinstance(item, Completion):
                tokens = item.completion_tokens
        end = time.perf_counter()
        generated += tokens
        decode += end - (first or end)
        total += end - start
        evaluated += perf(backend) - before - tokens
    return {"tokens": generated, "seconds": total, "decode_seconds": decode, "rate": generated / decode,
            "prompt_evaluated": evaluated}


def throughput(backend, prompt: str, tokens: int, trials: int) -> list[dict]:
    rows = []
    for n in SIZES:
        pairs = []
        for trial in range(trials):
            if trial % 2 == 0:
                a, b = together(backend, prompt, n, tokens), in_turn(backend, prompt, n, tokens)
            else:
                b, a = in_turn(backend, prompt, n, tokens), together(backend, prompt, n, tokens)
            pairs.append((a, b))
            print(f"n={n} trial {trial + 1}: together {a['rate']:.2f} tok/s, in turn {b['rate']:.2f} tok/s, "
                  f"prompt evaluated {a['prompt_evaluated']} vs {b['prompt_evaluated']}", file=sys.stderr)
        rows.append({
            "n": n,
            "together_tokens_per_second": round(statistics.median(a["rate"] for a, _ in pairs), 3),
            "in_turn_tokens_per_second": round(statistics.median(b["rate"] for _, b in pairs), 3),
            "ratio": round(statistics.median(a["rate"] / b["rate"] for a, b in pairs), 3),
            "together_prompt_evaluated": pairs[0][0]["prompt_evaluated"],
            "reported_prompt_evaluated": pairs[0][0]["reported_prompt_evaluated"],
            "in_turn_prompt_evaluated": pairs[0][1]["prompt_evaluated"],
            "trials": [{"together": a, "in_turn": b} for a, b in pairs],
        })
    return rows


def vote_runs(backend, items: list[dict], parallel: int, samples: int, max_tokens: int) -> list[dict]:
    from ponder.agent.settings import ChainConfig, RunConfig
    from ponder.agent.strategies import STRATEGIES
    from ponder.batch.metrics import gsm8k_reference
    from ponder.tools.answers import equivalent

    rows = []
    for item in items:
        for wave in (1, parallel) if len(rows) % 2 == 0 else (parallel, 1):
            cold(backend)
            config = RunConfig(chain=ChainConfig(max_tokens=max_tokens, seed=7), samples=samples, parallel=wave)
            start = time.perf_counter()
            events = list(STRATEGIES["vote"](backend, item["question"], config, run_id="bench", model=backend.name))
            seconds = time.perf_counter() - start
            answer = events[-1].answer or ""
            reference = gsm8k_reference(item["answer"])
            rows.append({"parallel": wave, "question": item["question"][:60], "answer": answer,
                         "reference": reference, "correct": bool(answer) and equivalent(answer, reference),
                         "seconds": round(seconds, 2), "completion_tokens": events[-1].usage["completion_tokens"]})
            print(f"vote parallel={wave}: {seconds:.1f}s answer {answer!r} (reference {reference})", file=sys.stderr)
    return rows


def summary(rows: list[dict], parallel: int) -> dict:
    def side(wave: int) -> dict:
        mine = [r for r in rows if r["parallel"] == wave]
        return {"seconds": round(sum(r["seconds"] for r in mine), 1), "correct": sum(r["correct"] for r in mine),
                "items": len(mine), "completion_tokens": sum(r["completion_tokens"] for r in mine)}

    one, many = side(1), side(parallel)
    return {"sequential": one, "parallel": many, "wall_time_ratio": round(many["seconds"] / one["seconds"], 3),
            "goal": "<= 0.6 at the same accuracy"}


def main() -> None:
    parser = arguments.parser(__doc__)
    parser.add_argument("--tokens", type=arguments.positive, default=96)
    parser.add_argument("--trials", type=arguments.positive, default=3)
    parser.add_argument("--items", type=arguments.positive, default=4)
    parser.add_argument("--samples", type=arguments.positive, default=5)
    parser.add_argument("--parallel", type=arguments.positive, default=4)
    parser.add_argument("--vote-max-tokens", type=arguments.positive, default=2048)
    parser.add_argument("--model", default="default")
    parser.add_argument("--skip-vote", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "parallel_sampling")
    args = parser.parse_args()

    from ponder.llm.llama import LlamaBackend, LoadOptions
    from ponder.llm.registry import resolve_model
    from ponder.machine import machine_info

    path = resolve_model(args.model)
    backend = LlamaBackend(path, LoadOptions(n_ctx=4096, sequences=max(SIZES)))
    prompt = backend.chat_prompt([{"role": "user", "content": QUESTION + "\nPlease reason step by step."}])
    together(backend, prompt, 2, 8)  # warm-up
    rows = [] if args.skip_throughput else throughput(backend, prompt, args.tokens, args.trials)
    items = [json.loads(line) for line in DATA.read_text().splitlines()[7000: 7000 + args.items]]
    votes = [] if args.skip_vote else vote_runs(backend, items, args.parallel, args.samples, args.vote_max_tokens)
    result = {
        "benchmark": "parallel_sampling",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(),
        "model": {"path": path.name, "bytes": path.stat().st_size, "n_ctx_per_sequence": 4096,
                  "sequences": max(SIZES), "threads": os.cpu_count(),
                  "gpu_layers": backend.gpu_layers},
        "throughput": {"tokens_per_sequence": args.tokens, "temperature": 0.8, "rows": rows},
        "vote": {"samples": args.samples, "parallel": args.parallel, "items": "gsm8k_train.jsonl lines 7001-",
                 "runs": votes, **(summary(votes, args.parallel) if votes else {})},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(args.out.with_suffix(".md").read_text())


def markdown(result: dict) -> str:
    """A short human-readable report."""
    m = result["machine"]
    lines = [
        "# Parallel sampling: n sequences in one context against n in turn",
        "",
        f"- date: {result['date']}",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, GPU offload: {m['gpu_offload']}",
        f"- llama-cpp-python {m['llama_cpp_python']}, model {result['model']['path']}",
        f"- command: `{result['command']}`",
        "",
    ]
    if result["throughput"]["rows"]:
        lines += [
            f"## Throughput ({result['throughput']['tokens_per_sequence']} tokens per sequence, temperature 0.8, "
            "medians of paired trials)",
            "",
            "| n | together tok/s | in turn tok/s | ratio | prompt tokens evaluated: together / in turn |",
            "|---|---|---|---|---|",
        ]
    for r in result["throughput"]["rows"]:
        lines.append(f"| {r['n']} | {r['together_tokens_per_second']} | {r['in_turn_tokens_per_second']} | "
                     f"**{r['ratio']}×** | {r['together_prompt_evaluated']} / {r['in_turn_prompt_evaluated']} |")
    vote = result["vote"]
    if vote.get("runs"):
        s, p = vote["sequential"], vote["parallel"]
        lines += [
            "",
            f"## `vote -n {vote['samples']}`: sequential against waves of {vote['parallel']} (same items, same seeds)",
            "",
            "| | wall seconds | correct | completion tokens |",
            "|---|---|---|---|",
            f"| `--parallel 1` | {s['seconds']} | {s['correct']}/{s['items']} | {s['completion_tokens']} |",
            f"| `--parallel {vote['parallel']}` | {p['seconds']} | {p['correct']}/{p['items']} | "
            f"{p['completion_tokens']} |",
            "",
            f"Wall-time ratio: **{vote['wall_time_ratio']}** (goal {vote['goal']}).",
        ]
    return "\n".join(lines) + "\n"



if __name__ == "__main__":
    arguments.run(main)
