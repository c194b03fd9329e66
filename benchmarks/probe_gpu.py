"""The GPU half of the outcome-probe experiment (`benchmarks/quality_probe.py`): sample more
routes on training problems and read the model's hidden states at the end of every route.

It runs where a GPU is (the device machine), with torch and transformers alone: no ponder, so
it needs none of ponder's dependencies there. The model is the default GGUF, dequantized by
transformers (exactly the Q4_K_M weights, computed in bf16, not llama.cpp's arithmetic).

Input (`--inputs`, JSONL from `quality_probe.py inputs`): rows with `key`, `route` ("reason" or
"program"), `prompt` (the exact chat prompt a route is given, the program's code-block opening
included) and either `text` (a route already written: the pool's) or `sample` ({temperature,
seed, max_tokens}: a route to write here).

Output, under `--out`: `gen.jsonl` (the written routes: key and text) and, for every row in the
input's order, `h_<name>.npy` (float16, rows x hidden size): the hidden state of layer L at a
route's end (the token after its text: `<|im_end|>` for a chain, the closing fence for a
program) and the mean over the route's own tokens, for layers 14, 20 and the final one (after its
norm: what llama.cpp's embeddings give). Inputs may be gzipped (`.jsonl.gz`). `--only written`
or `--only new` saves the states of the written routes alone (all, or this run's), in the order
`keys.json` lists, so that they fit what a device call can send back; `--written` takes the
routes of earlier runs' `gen.jsonl` as written, so a run goes on where the last one's deadline
stopped it.

Rules that must hold: nothing is fetched (files are read locally); a route's text is cut at
its stop (the fence for programs) exactly as ponder cuts it; outputs are written whole at the end.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

END = {"reason": "<|im_end|>", "program": "```"}
LAYERS = (14, 20)  # of 28: the final layer (after its norm) is read too
DEVICE = "cuda"  # "cpu" where torch sees no GPU (a smoke test)


def load(gguf: Path):  # type: ignore[no-untyped-def]
    """The tokenizer and the model (bf16 on CUDA) from a GGUF file."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=dtype)
    return tok, model.to(DEVICE).eval()


def generate(tok, model, rows: list[dict], items: int, deadline: float) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Write the rows that ask for a sample, `items` problems at a time, until `deadline`
    (perf_counter seconds): key -> text (the program's opening included)."""
    import torch

    todo = [r for r in rows if "sample" in r]
    tok.padding_side = "left"
    eos = [tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")]
    out: dict[str, str] = {}
    per_item = len({r["key"].rsplit(":", 1)[1] for r in todo}) or 1
    for first in range(0, len(todo), items * per_item):
        if time.perf_counter() > deadline:
            print(f"deadline: {len(out)} of {len(todo)} routes written", file=sys.stderr, flush=True)
            break
        groups: dict[tuple, list[dict]] = {}
        for r in todo[first:first + items * per_item]:
            s = r["sample"]
            groups.setdefault((r["route"], s["temperature"], s["max_tokens"]), []).append(r)
        for (route, temperature, max_tokens), chunk in sorted(groups.items()):
            began = time.perf_counter()
            enc = tok([r["prompt"] for r in chunk], return_tensors="pt", padding=True, add_special_tokens=False).to(DEVICE)
            torch.manual_seed(chunk[0]["sample"]["seed"])
            kwargs = dict(do_sample=True, temperature=temperature, top_p=0.95, top_k=40) if temperature > 0 else dict(do_sample=False)
            with torch.no_grad():
                ids = model.generate(**enc, max_new_tokens=max_tokens, eos_token_id=eos, pad_token_id=eos[1],
                                     stop_strings=["```"] if route == "program" else None, tokenizer=tok, **kwargs)
            for r, seq in zip(chunk, ids[:, enc["input_ids"].shape[1]:]):
                text = tok.decode(seq, skip_special_tokens=True)
                if route == "program":
                    text = "```python\n" + text.split("```")[0]
                out[r["key"]] = text
            print(f"generate {route} t={temperature}: {len(chunk)} routes from {first}/{len(todo)} in {time.perf_counter() - began:.1f}s",
                  file=sys.stderr, flush=True)
    return out


def hidden(tok, model, rows: list[dict], texts: dict[str, str], batch: int) -> dict[str, "object"]:  # type: ignore[no-untyped-def]
    """Hidden states at each route's end (layers LAYERS and the final) and the mean over its tokens."""
    import numpy as np
    import torch

    prompt_ids = [tok(r["prompt"], add_special_tokens=False)["input_ids"] for r in rows]
    full_ids = []
    for r in rows:
        body = r.get("text", texts.get(r["key"], ""))
        if r["route"] == "program" and body.startswith("```python\n"):
            body = body[len("```python\n"):]
        full_ids.append(tok(r["prompt"] + body + END[r["route"]], add_special_tokens=False)["input_ids"])
    size = model.config.hidden_size
    names = [f"l{n}_end" for n in LAYERS] + ["final_end"] + [f"l{n}_mean" for n in LAYERS] + ["final_mean"]
    out = {name: np.zeros((len(rows), size), dtype=np.float16) for name in names}
    written = [i for i, r in enumerate(rows) if "text" in r or r["key"] in texts]  # unwritten rows stay zero
    order = sorted(written, key=lambda i: len(full_ids[i]))
    for start in range(0, len(order), batch):
        idx = order[start:start + batch]
        width = max(len(full_ids[i]) for i in idx)
        ids = torch.full((len(idx), width), tok.pad_token_id or 0, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for j, i in enumerate(idx):
            ids[j, :len(full_ids[i])] = torch.tensor(full_ids[i])
            mask[j, :len(full_ids[i])] = 1
        with torch.no_grad():
            states = model(input_ids=ids.to(DEVICE), attention_mask=mask.to(DEVICE), output_hidden_states=True).hidden_states
            ends = torch.tensor([len(full_ids[i]) - 1 for i in idx], device=DEVICE)
            begins = torch.tensor([min(len(prompt_ids[i]), len(full_ids[i]) - 1) for i in idx], device=DEVICE)
            where = torch.arange(width, device=DEVICE)[None, :]
            span = ((where >= begins[:, None]) & (where < ends[:, None])).float().unsqueeze(-1)  # the route's own tokens
            picked = torch.arange(len(idx), device=DEVICE)
            for name, layer in [(f"l{n}", states[n]) for n in LAYERS] + [("final", states[-1])]:
                out[f"{name}_end"][idx] = layer[picked, ends].float().cpu().numpy()
                mean = (layer.float() * span).sum(1) / span.sum(1).clamp(min=1)
                out[f"{name}_mean"][idx] = mean.cpu().numpy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, required=True)
    parser.add_argument("--inputs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--gen-items", type=int, default=128, help="problems written together")
    parser.add_argument("--gen-seconds", type=float, default=330, help="no new problems after this long")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--no-states", action="store_true", help="write routes only")
    parser.add_argument("--limit", type=int, default=0, help="only the first N rows (a smoke test)")
    parser.add_argument("--written", type=Path, nargs="*", default=[],
                        help="gen.jsonl of earlier runs: those routes are taken as written, not written again")
    parser.add_argument("--only", choices=("all", "written", "new"), default="all",
                        help="whose states to save: every input row (unwritten ones zero), the written ones, or this run's")
    args = parser.parse_args()
    import numpy as np
    import torch

    global DEVICE
    DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
    raw = args.inputs.read_bytes()
    raw = gzip.decompress(raw) if args.inputs.suffix == ".gz" else raw
    rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    rows = rows[:args.limit] if args.limit else rows
    earlier = {}
    for path in args.written:
        earlier.update((g["key"], g["text"]) for g in map(json.loads, path.read_text(encoding="utf-8").splitlines()))
    rows = [{**{k: v for k, v in r.items() if k != "sample"}, "text": earlier[r["key"]]} if r["key"] in earlier else r
            for r in rows]
    began = time.perf_counter()
    tok, model = load(args.gguf)
    print(f"loaded in {time.perf_counter() - began:.0f}s", file=sys.stderr, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    texts = generate(tok, model, rows, args.gen_items, time.perf_counter() + args.gen_seconds)
    with open(args.out / "gen.jsonl", "w", encoding="utf-8") as sink:
        for key, text in texts.items():
            sink.write(json.dumps({"key": key, "text": text}, ensure_ascii=False) + "\n")
    if args.no_states:
        return
    began = time.perf_counter()
    if args.only != "all":  # keys.json names the rows kept, in order
        rows = [r for r in rows if r["key"] in texts or (args.only == "written" and "text" in r)]
        (args.out / "keys.json").write_text(json.dumps([r["key"] for r in rows]), encoding="utf-8")
    states = hidden(tok, model, rows, texts, args.batch)
    for name, array in states.items():
        np.save(args.out / f"h_{name}.npy", array)
    print(f"hidden states of {len(rows)} routes in {time.perf_counter() - began:.0f}s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
