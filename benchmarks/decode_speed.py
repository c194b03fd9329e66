"""Benchmark: ponder's decode speed against raw llama-cpp-python, and prompt-token re-use.

Both sides run on the same loaded model and context, interleaved (ponder, raw, ponder, raw,
...) so machine noise hits them alike; the figure that matters is the ratio of medians.
The re-use half runs full guided chains and compares the tokens llama.cpp evaluated (its
own perf counters) with the final transcript's length.

    python benchmarks/decode_speed.py [--tokens 128] [--trials 5] [--model default|PATH]

Writes benchmarks/results/decode_speed.json and .md (machine, date, model, command).
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
PROMPT = "Write a long, detailed story about a lighthouse keeper who finds a message in a bottle."
QUESTIONS = [
    "What is 17 * 23?",
    "Tom has 5 apples and buys 7 more. He gives 3 to Ann. How many apples does he have?",
    "A train travels 60 km per hour for 2.5 hours. How far does it go?",
]


def decode_rate(stamps: list[float]) -> float:
    """Tokens per second between the first and the last token (prompt evaluation excluded)."""
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def raw_trial(llm, tokens: list[int], n: int) -> tuple[float, int]:
    """Raw llama-cpp-python: greedy `generate`, n tokens, nothing else."""
    llm.reset()
    stamps = []
    for token in llm.generate(tokens, temp=0.0, top_k=40, top_p=0.95, min_p=0.0, repeat_penalty=1.0):
        stamps.append(time.perf_counter())
        if len(stamps) >= n:
            break
    return decode_rate(stamps), len(stamps)


def ponder_trial(backend, prompt: str, n: int) -> tuple[float, int]:
    """ponder's backend: same prompt and sampling, with stop scanning and per-token confidence."""
    from ponder.llm.backend import Completion, Sampling

    backend.llm.reset()
    stamps = []
    done = None
    for item in backend.stream(prompt, Sampling(max_tokens=n, stop=("</answer>",))):
        if isinstance(item, Completion):
            done = item
        else:
            stamps.append(time.perf_counter())
    return decode_rate(stamps), done.completion_tokens


def perf_count(backend) -> int:
    """Tokens llama.cpp has evaluated in this context so far (prompt and generation)."""
    import llama_cpp

    data = llama_cpp.llama_perf_context(backend.llm.ctx)
    return int(data.n_p_eval + data.n_eval)


def chain_reuse(backend, question: str) -> dict:
    """Run one guided chain from a cold cache; compare evaluated tokens with the transcript."""
    from ponder.agent.settings import RunConfig
    from ponder.agent.strategies import STRATEGIES
    from ponder.trace.events import RunFinished, StepFinished

    backend.llm.reset()
    backend._known_tokens, backend._known_pieces = [], []
    before = perf_count(backend)
    bare_chain = RunConfig(review=False)
    events = list(STRATEGIES["chain"](backend, question, bare_chain, run_id="bench", model=backend.name))
    evaluated = perf_count(backend) - before
    usage = [e for e in events if isinstance(e, RunFinished)][0].usage
    steps = [e for e in events if isinstance(e, StepFinished)]
    transcript = usage["transcript_tokens"]
    return {
        "question": question,
        "answer": events[-1].answer,
        "steps": len(steps),
        "transcript_tokens": transcript,
        "prompt_tokens_evaluated": usage["prompt_tokens_evaluated"],
        "completion_tokens": usage["completion_tokens"],
        "llama_cpp_evaluated": evaluated,
        # Every transcript token is evaluated once except the very last (never fed back).
        "evaluated_twice": evaluated - (transcript - 1),
        "naive_resend_tokens": sum(s.prompt_tokens for s in steps) + usage["completion_tokens"],
    }


def main() -> None:
    parser = arguments.parser(__doc__)
    parser.add_argument("--tokens", type=arguments.positive, default=128)
    parser.add_argument("--trials", type=arguments.positive, default=8)
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", type=Path, default=RESULTS / "decode_speed")
    args = parser.parse_args()

    from ponder.llm.llama import LlamaBackend, LoadOptions
    from ponder.llm.registry import resolve_model
    from ponder.machine import machine_info

    path = resolve_model(args.model)
    backend = LlamaBackend(path, LoadOptions(n_ctx=4096))
    prompt = backend.chat_prompt([{"role": "user", "content": PROMPT}])
    tokens = backend.llm.tokenize(prompt.encode(), add_bos=False, special=True)

    ponder_rates, raw_rates, counts = [], [], []
    ponder_trial(backend, prompt, 8)  # warm-up
    for trial in range(args.trials):
        if trial % 2 == 0:  # alternate the order so drift favours neither side
            rate, n = ponder_trial(backend, prompt, args.tokens)
            raw, raw_n = raw_trial(backend.llm, tokens, n)
        else:
            raw, raw_n = raw_trial(backend.llm, tokens, args.tokens)
            rate, n = ponder_trial(backend, prompt, raw_n)
        ponder_rates.append(rate)
        raw_rates.append(raw)
        counts.append((n, raw_n))
        print(f"trial {trial + 1}: ponder {rate:.2f} tok/s, raw {raw:.2f} tok/s ({n} tokens)", file=sys.stderr)

    reuse = [chain_reuse(backend, q) for q in QUESTIONS]
    for row in reuse:
        print(f"chain: {row['question'][:40]!r}: evaluated {row['llama_cpp_evaluated']} for a "
              f"{row['transcript_tokens']}-token transcript (twice: {row['evaluated_twice']})", file=sys.stderr)

    result = {
        "benchmark": "decode_speed",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(),
        "model": {"path": path.name, "bytes": path.stat().st_size, "n_ctx": 4096,
                  "threads": os.cpu_count(), "gpu_layers": backend.gpu_layers},
        "decode": {
            "tokens_per_trial": counts,
            "ponder_tokens_per_second": [round(r, 3) for r in ponder_rates],
            "raw_tokens_per_second": [round(r, 3) for r in raw_rates],
            "ponder_median": round(statistics.median(ponder_rates), 3),
            "raw_median": round(statistics.median(raw_rates), 3),
            "paired_ratios": [round(p / r, 4) for p, r in zip(ponder_rates, raw_rates)],
            "ratio_ponder_over_raw": round(statistics.median(p / r for p, r in zip(ponder_rates, raw_rates)), 4),
            "goal": ">= 0.95",
        },
        "prompt_reuse": reuse,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(json.dumps(result["decode"], indent=2))


def markdown(result: dict) -> str:
    """A short human-readable report of the results."""
    d, m = result["decode"], result["machine"]
    lines = [
        "# Decode speed and prompt re-use",
        "",
        f"- date: {result['date']}",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, GPU offload: {m['gpu_offload']}",
        f"- llama-cpp-python {m['llama_cpp_python']}, model {result['model']['path']}",
        f"- command: `{result['command']}`",
        "",
        "## Decode (greedy, interleaved trials, medians)",
        "",
        "| | tokens/s |",
        "|---|---|",
        f"| raw llama-cpp-python `generate` | {d['raw_median']} |",
        f"| ponder `LlamaBackend.stream` (stop scan + confidence) | {d['ponder_median']} |",
        f"| **ratio ponder / raw** (median of paired trials) | **{d['ratio_ponder_over_raw']}** (goal {d['goal']}) |",
        "",
        f"Paired ratios per trial: {d['paired_ratios']}",
        "",
        "## Prompt re-use within a guided chain (cold cache per question)",
        "",
        "| question | steps | transcript tokens | evaluated by llama.cpp | evaluated twice | naive re-send |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["prompt_reuse"]:
        lines.append(f"| {r['question'][:48]} | {r['steps']} | {r['transcript_tokens']} | "
                     f"{r['llama_cpp_evaluated']} | {r['evaluated_twice']} | {r['naive_resend_tokens']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    arguments.run(main)
