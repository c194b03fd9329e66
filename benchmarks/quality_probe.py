"""An outcome probe: does a read of the model's own hidden states (logistic, or a small MLP)
tell right routes from wrong ones well enough to choose among the cascade's routes better
than its vote?

Four steps, the second on a GPU (`benchmarks/probe_gpu.py`, torch and transformers alone):

    python benchmarks/quality_probe.py inputs --gen-items 500   # .probe/inputs.jsonl
    python benchmarks/probe_gpu.py --gguf DEFAULT.gguf --inputs .probe/inputs.jsonl --out .probe/states
    python benchmarks/quality_probe.py label                    # results/quality/probe_routes.jsonl
    python benchmarks/quality_probe.py evaluate                 # results/quality/probe.{json,md}

`inputs` writes every route of the quality pool (items 0..299 of the fixed shuffle, their
prompts rebuilt exactly as ponder builds them) and, for `--gen-items` further training
problems (from position 300 of the same shuffle, never in the pool), the routes to write on
the GPU: greedy chain and program, two sampled chains and two sampled programs at the pool's
temperature. `label` answers the GPU-written routes as ponder does (the chain's answer as the
engine reads it, the program run in ponder's sandbox) and scores them. `evaluate` chooses the
feature, the L2 strength and the rule by 5-fold cross-validation (by item) on the GPU-written
items alone, trains on all of them, and replays the pool's items once: the probe chooses among
the routes the cascade read (the same tokens), beside the plain chain and the cascade's vote.

The same GPU-written items also set plain self-consistency beside the cascade (the issue's
SC at k = 8, which the pool cannot give: its sampled chains exist only where the greedy routes
disagree): `sc-inputs` asks for six more sampled chains on the first of them, the GPU writes
them (`probe_gpu.py --inputs .probe/sc_inputs.jsonl --no-states`), `label --states OUT --out
results/quality/sc_routes.jsonl` scores them, and `self-consistency` writes sc_gpu.{json,md}.

At scale (session 22: 768 more items, positions 800..1567, written in two device runs of under
ten minutes; `probe_scale.md` and `probe_scale_mlp.md`):

    python benchmarks/quality_probe.py inputs --gen-from 800 --gen-items 2400 --written results/quality/probe_routes.jsonl
    python benchmarks/probe_gpu.py --gguf M --inputs .probe/inputs.jsonl.gz --out S1 --gen-items 384 --gen-seconds 290 --only written
    python benchmarks/probe_gpu.py --gguf M --inputs .probe/inputs.jsonl.gz --out S2 --written S1/gen.jsonl --only new
    # .probe/states: S1's and S2's keys.json joined and their h_*.npy stacked in that order; gen.jsonl both runs'
    python benchmarks/quality_probe.py label --gen-from 800 --gen-items 768 --out results/quality/probe_routes_800.jsonl
    python benchmarks/quality_probe.py evaluate --routes results/quality/probe_routes.jsonl results/quality/probe_routes_800.jsonl \
        --features l20_mean final_mean l14_mean means --name probe_scale     # and --head mlp --name probe_scale_mlp

(The session's own runs did the same by hand: the first run saved every row and the written
ones were cut out on the device; the second's states were read in a third call after its
deadline left no time. `--only` and `--written` now do those steps.)

Rules that must hold: the probe never trains on a pool item (the items every other quality
figure is read on); results carry date, commit, machine and command.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arguments  # noqa: E402
import quality  # noqa: E402

PROBE = Path(".probe")  # the inputs and the GPU's hidden states (about 75 MB): not committed
RESULTS = Path(__file__).resolve().parent / "results" / "quality"
ROUTES = RESULTS / "probe_routes.jsonl"  # the GPU-written routes, answered and scored: committed
SC_ROUTES = RESULTS / "sc_routes.jsonl"  # six more sampled chains (routes 6..16) on the first of those items
SAMPLED = {2: "reason", 3: "program", 4: "reason", 5: "program"}
POOL_ITEMS = 300  # the quality pool's items: positions 0..299 of the fixed shuffle
TEMPERATURE = 0.7


def _prompter():  # type: ignore[no-untyped-def]
    """A function route, question -> the exact prompt ponder gives that route."""
    from llama_cpp import Llama

    from ponder.agent.engine.routes import route_prompt
    from ponder.llm.llama import LlamaBackend
    from ponder.llm.registry import resolve_model
    from ponder.thought_factors.catalogue import load_catalogue

    shim = LlamaBackend.__new__(LlamaBackend)
    shim.llm = Llama(str(resolve_model("default")), vocab_only=True, verbose=False)
    catalogue = load_catalogue()
    return lambda route, question: route_prompt(shim, catalogue, route, question)


def inputs(args: argparse.Namespace) -> None:
    """The routes whose hidden states the GPU reads: the pool's, and further ones to write."""
    prompt = _prompter()
    pool = quality.read_pool(RESULTS / "pool.jsonl")
    questions = {item["id"]: item["question"] for item in quality.items(300)}
    rows: list[dict[str, Any]] = []
    for (item_id, n), row in sorted(pool.items()):
        rows.append({"key": f"{item_id}:{n}", "route": row["route"], "prompt": prompt(row["route"], questions[item_id]),
                     "text": row["text"]})
    for path in args.written:  # routes written on the GPU before: their states are read again
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            question = questions.setdefault(row["id"], _question(row["id"]))
            rows.append({"key": f"{row['id']}:{row['n']}", "route": row["route"], "prompt": prompt(row["route"], question),
                         "text": row["text"]})
    budget = {"reason": 768, "program": 400}
    for item in quality.items(args.gen_items, args.gen_from):
        for n, route in {0: "reason", 1: "program", **SAMPLED}.items():
            temperature = TEMPERATURE if n >= 2 else 0.0
            rows.append({"key": f"{item['id']}:{n}", "route": route, "prompt": prompt(route, item["question"]),
                         "sample": {"temperature": temperature, "seed": quality.SEED_STRIDE * n,
                                    "max_tokens": budget[route]}})
    PROBE.mkdir(exist_ok=True)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    (PROBE / "inputs.jsonl").write_text(text, encoding="utf-8")
    (PROBE / "inputs.jsonl.gz").write_bytes(gzip.compress(text.encode("utf-8")))  # what travels to the GPU
    print(f"{len(rows)} routes ({len(pool)} from the pool) -> {PROBE / 'inputs.jsonl'}(.gz)", file=sys.stderr)


def _question(item_id: str) -> str:
    """The question of a training problem, by its id."""
    global _QUESTIONS
    if not _QUESTIONS:
        _QUESTIONS = {item["id"]: item["question"] for item in quality.items(10_000)}
    return _QUESTIONS[item_id]


_QUESTIONS: dict[str, str] = {}


def sc_inputs(args: argparse.Namespace) -> None:
    """Further sampled chains (routes 6, 8, ...) on the first GPU-written items, so that plain
    self-consistency of up to eight sampled chains (routes 2, 4, 6, ...) can be set beside the
    cascade on the same items."""
    prompt = _prompter()
    rows = [{"key": f"{item['id']}:{n}", "route": "reason", "prompt": prompt("reason", item["question"]),
             "sample": {"temperature": TEMPERATURE, "seed": quality.SEED_STRIDE * n, "max_tokens": 768}}
            for item in quality.items(args.items, 300) for n in range(6, 6 + 2 * args.chains, 2)]
    PROBE.mkdir(exist_ok=True)
    (PROBE / "sc_inputs.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} chains -> {PROBE / 'sc_inputs.jsonl'}", file=sys.stderr)


def label(args: argparse.Namespace) -> None:
    """Answer and score every GPU-written route as ponder would (the program run in its sandbox)."""
    from concurrent.futures import ThreadPoolExecutor

    from ponder.agent.engine.checks import printed_value
    from ponder.batch.metrics import gsm8k_reference
    from ponder.tools.answers import as_asked, chain_answer, equivalent
    from ponder.tools.sandbox import Sandbox

    items = {item["id"]: item for item in quality.items(args.gen_items, args.gen_from)}
    written = [json.loads(line) for line in (args.states / "gen.jsonl").read_text(encoding="utf-8").splitlines()]
    written = [row for row in written if row["key"].split(":")[0] in items]
    sandbox = Sandbox()

    def one(row: dict[str, Any]) -> dict[str, Any]:
        item_id, n = row["key"].rsplit(":", 1)
        item = items[item_id]
        route = "reason" if int(n) % 2 == 0 else "program"
        if route == "reason":
            answer = chain_answer(row["text"], item["question"])
        else:
            ran = sandbox.run(row["text"].removeprefix("```python\n"))
            answer = as_asked(printed_value(ran), item["question"]) if ran.ok else None
        value = answer.normalized if answer is not None and answer.kind != "none" else ""
        reference = gsm8k_reference(item["answer"])
        return {"id": item_id, "n": int(n), "route": route, "answer": value, "reference": reference,
                "correct": bool(value) and equivalent(value, reference), "text": row["text"]}

    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(one, written))
    out = args.out
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} routes labelled, {sum(r['correct'] for r in rows)} right -> {out}", file=sys.stderr)


FEATURES = ("final_end", "l14_end", "l20_end", "l20_mean", "l14_mean", "final_mean", "means")  # means: the three side by side
MEANS = ("l14_mean", "l20_mean", "final_mean")
STRENGTHS = {"logit": (1.0, 10.0, 100.0, 1000.0), "mlp": (0.01, 0.1, 1.0)}  # L2 for the logistic probe, weight decay for the MLP
RULES = ("soft", "soft+bonus", "max", "vote+ties")  # vote+ties: the cascade's vote, ties broken by the probe


def fit(x, y, l2: float):  # type: ignore[no-untyped-def]
    """Logistic regression (standardized inputs, L2 on the weights): (mean, scale, weights, bias)."""
    import torch

    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    w = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def loss():  # type: ignore[no-untyped-def]
        opt.zero_grad()
        value = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, y) + l2 * (w @ w) / len(y)
        value.backward()
        return value

    opt.step(loss)
    return mean.numpy(), scale.numpy(), w.detach().numpy(), float(b.detach())


def fit_mlp(x, y, decay: float):  # type: ignore[no-untyped-def]
    """A one-hidden-layer network (256 units, dropout 0.3, AdamW with this weight decay, 60
    epochs, seed 0) on standardized inputs: a function rows -> P(right)."""
    import torch

    torch.manual_seed(0)
    x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    net = torch.nn.Sequential(torch.nn.Linear(z.shape[1], 256), torch.nn.GELU(), torch.nn.Dropout(0.3), torch.nn.Linear(256, 1))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=decay)
    for _ in range(60):
        order = torch.randperm(len(z))
        for start in range(0, len(z), 128):
            batch = order[start:start + 128]
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(net(z[batch]).squeeze(1), y[batch]).backward()
            opt.step()
    net.eval()

    def score(rows):  # type: ignore[no-untyped-def]
        with torch.no_grad():
            return torch.sigmoid(net((torch.as_tensor(rows, dtype=torch.float32) - mean) / scale).squeeze(1)).numpy()
    return score


def train_head(x, y, head: str, strength: float):  # type: ignore[no-untyped-def]
    """The probe of `head` ("logit" or "mlp") at this regularization strength."""
    return fit(x, y, strength) if head == "logit" else fit_mlp(x, y, strength)


def predict(model, x):  # type: ignore[no-untyped-def]
    """P(right) of each row."""
    import numpy as np

    if callable(model):
        return model(x)
    mean, scale, w, b = model
    return 1 / (1 + np.exp(-(((x - mean) / scale) @ w + b)))


def auc(p, y) -> float:  # type: ignore[no-untyped-def]
    """Area under the ROC curve: P(a right route scores above a wrong one), ties half."""
    pos = [a for a, t in zip(p, y) if t]
    neg = [a for a, t in zip(p, y) if not t]
    if not pos or not neg:
        return float("nan")
    wins = sum((a > c) + 0.5 * (a == c) for a in pos for c in neg)
    return wins / (len(pos) * len(neg))


def within_auc(by_item, replays, scores) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """P(a right route outscores a wrong one read on the same item), ties half; and the pairs."""
    wins = pairs = 0.0
    for item_id, (_, read) in replays.items():
        routes = [by_item[item_id][n] for n in read if by_item[item_id][n]["answer"]]
        right = [scores[(item_id, r["n"])] for r in routes if r["correct"]]
        wrong = [scores[(item_id, r["n"])] for r in routes if not r["correct"]]
        wins += sum((a > b) + 0.5 * (a == b) for a in right for b in wrong)
        pairs += len(right) * len(wrong)
    return (wins / pairs if pairs else float("nan")), int(pairs)


def choose(routes: dict[int, dict[str, Any]], read: list[int], scores: dict[int, float], rule: str) -> str:
    """The answer the probe's scores pick among the routes the cascade read."""
    groups = quality._groups(routes[n]["answer"] for n in read)
    if not groups:
        return ""
    members = [[n for n in read if routes[n]["answer"] and routes[n]["answer"] in group] for group in groups]
    if rule == "max":
        best = max((n for n in read if routes[n]["answer"]), key=lambda n: scores[n])
        return routes[best]["answer"]
    if rule == "vote+ties":
        votes = [len(ns) + (len({routes[n]["route"] for n in ns}) == 2) for ns in members]
        mean = [sum(scores[n] for n in ns) / len(ns) for ns in members]
        return groups[max(range(len(groups)), key=lambda g: (votes[g], mean[g]))][0]
    bonus = 1.0 if rule == "soft+bonus" else 0.0
    totals = [sum(scores[n] for n in ns) + bonus * (len({routes[n]["route"] for n in ns}) == 2) for ns in members]
    return groups[max(range(len(groups)), key=lambda g: (totals[g], -g))][0]


def _replays(by_item: dict[str, dict[int, dict[str, Any]]]) -> dict[str, tuple[str, list[int]]]:
    out = {}
    for item_id, routes in by_item.items():
        replay = quality.replay_cascade(routes, 6, 4)
        if replay is not None:
            out[item_id] = replay
    return out


def _accuracy(by_item, replays, scores, rule: str) -> list[bool]:  # type: ignore[no-untyped-def]
    """Per item, whether `rule` over the probe's scores picks a right answer (the cascade's own
    answer where it read only the two greedy routes)."""
    from ponder.tools.answers import equivalent

    out = []
    for item_id, (answer, read) in replays.items():
        routes = by_item[item_id]
        picked = choose(routes, read, {n: scores.get((item_id, n), 0.0) for n in read}, rule) if len(read) > 2 else answer
        out.append(bool(picked) and equivalent(picked, routes[0]["reference"]))
    return out


def _cascade(by_item, replays) -> list[bool]:  # type: ignore[no-untyped-def]
    from ponder.tools.answers import equivalent

    return [bool(a) and equivalent(a, by_item[i][0]["reference"]) for i, (a, _) in replays.items()]


def _grouped(rows: list[dict[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    by: dict[str, dict[int, dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["id"], {})[int(r["n"])] = r
    return by


class _States:
    """The GPU's hidden states, looked up by route."""

    def __init__(self, folder: Path, features: tuple[str, ...]) -> None:
        import numpy as np

        listed = folder / "keys.json"  # the rows kept (written routes only), else every row of the inputs
        keys = (json.loads(listed.read_text(encoding="utf-8")) if listed.exists() else
                [json.loads(line)["key"] for line in (PROBE / "inputs.jsonl").read_text(encoding="utf-8").splitlines()])
        self.where = {tuple(k.rsplit(":", 1)): i for i, k in enumerate(keys)}
        wanted = {part for name in features for part in (MEANS if name == "means" else (name,))}
        self.arrays = {name: np.load(folder / f"h_{name}.npy").astype(np.float32) for name in wanted}

    def of(self, name: str, rows: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
        """The feature `name` of each row, stacked."""
        import numpy as np

        at = [self.where[(r["id"], str(r["n"]))] for r in rows]
        if name == "means":
            return np.concatenate([self.arrays[part][at] for part in MEANS], axis=1)
        return self.arrays[name][at]


def _cross_validate(states: _States, gen: list[dict[str, Any]], features: tuple[str, ...], head: str) -> list[dict[str, Any]]:
    """Every feature x L2 x rule, scored by 5-fold cross-validation (folds by item)."""
    items = _grouped(gen)
    replays = _replays(items)
    cascade = _cascade(items, replays)
    train = [r for r in gen if r["answer"]]
    ids = sorted(items)
    folds = [set(ids[k::5]) for k in range(5)]
    cv: list[dict[str, Any]] = []
    for name in features:
        for l2 in STRENGTHS[head]:
            scores: dict[tuple[str, int], float] = {}
            for fold in folds:
                fit_rows = [r for r in train if r["id"] not in fold]
                test_rows = [r for r in gen if r["id"] in fold]
                model = train_head(states.of(name, fit_rows), [r["correct"] for r in fit_rows], head, l2)
                scores.update(zip([(r["id"], r["n"]) for r in test_rows], map(float, predict(model, states.of(name, test_rows)))))
            route_auc = auc([scores[(r["id"], r["n"])] for r in train], [r["correct"] for r in train])
            within, _ = within_auc(items, replays, scores)
            for rule in RULES:
                got = _accuracy(items, replays, scores, rule)
                cv.append({"feature": name, "l2": l2, "rule": rule, "auc": round(route_auc, 3),
                           "within_item_auc": round(within, 3), "correct": sum(got), "items": len(got),
                           "vs_cascade": quality.paired(got, cascade)})
                print(f"cv {name} l2={l2} {rule}: {sum(got)}/{len(got)} (vote {sum(cascade)})", file=sys.stderr)
    return cv


def _pool_slices(items, replays, scores, rule: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Plain chain, cascade vote, probe choice and the best read route, on the pool's slices."""
    out = {}
    for name, lo, hi in (("tuning 0..149", 0, 150), ("out of sample 150..299", 150, 300), ("all 300", 0, 300)):
        wanted = {item["id"] for item in quality.items(hi)[lo:]}
        sub = {i: r for i, r in replays.items() if i in wanted}
        plain = [items[i][0]["correct"] for i in sub]
        cascade = _cascade(items, sub)
        probe = _accuracy(items, sub, scores, rule)
        oracle = [any(items[i][n]["correct"] for n in read) for i, (_, read) in sub.items()]
        out[name] = {"items": len(sub), "plain": sum(plain), "cascade": sum(cascade), "probe": sum(probe),
                     "oracle_of_read": sum(oracle), "probe_vs_cascade": quality.paired(probe, cascade),
                     "probe_vs_plain": quality.paired(probe, plain)}
    return out


def evaluate(args: argparse.Namespace) -> None:
    """Choose feature, L2 and rule by cross-validation on the GPU-written items; then train on
    all of them and replay the pool's items once."""
    from ponder.machine import machine_info

    features = tuple(args.features)
    states = _States(args.states, features)
    gen = [json.loads(line) for path in args.routes for line in path.read_text(encoding="utf-8").splitlines()]
    pool = list(quality.read_pool(RESULTS / "pool.jsonl").values())
    cv = _cross_validate(states, gen, features, args.head)
    best = max(cv, key=lambda c: (c["correct"], c["auc"]))
    train = [r for r in gen if r["answer"]]
    model = train_head(states.of(best["feature"], train), [r["correct"] for r in train], args.head, best["l2"])
    scores = dict(zip([(r["id"], int(r["n"])) for r in pool], map(float, predict(model, states.of(best["feature"], pool)))))
    answered = [r for r in pool if r["answer"]]
    gen_items, pool_items = _grouped(gen), _grouped(pool)
    gen_replays, pool_replays = _replays(gen_items), _replays(pool_items)
    within, pairs = within_auc(pool_items, pool_replays, scores)
    gen_plain = [gen_items[i][0]["correct"] for i in gen_replays]
    result = {"date": quality.datetime.now(quality.timezone.utc).isoformat(timespec="seconds"),
              "commit": quality._commit(), "machine": machine_info(),
              "gpu_half": args.gpu, "command": "python " + " ".join(sys.argv), "head": args.head,
              "routes_files": [path.name for path in args.routes],
              "gen_items": len(gen_replays), "pool_items": len(pool_replays),
              "base_cv_cascade": sum(_cascade(gen_items, gen_replays)), "gen_plain": sum(gen_plain),
              "gen_cascade_vs_plain": quality.paired(_cascade(gen_items, gen_replays), gen_plain),
              "chosen": best, "pool_auc": round(auc([scores[(r["id"], int(r["n"]))] for r in answered],
                                                    [r["correct"] for r in answered]), 3),
              "pool_within_item_auc": round(within, 3), "pool_within_pairs": pairs,
              "slices": _pool_slices(pool_items, pool_replays, scores, best["rule"]), "cv": cv}
    out = RESULTS / f"{args.name}.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


def self_consistency(args: argparse.Namespace) -> None:
    """Plain self-consistency (the majority of k sampled chains, k = 1..8) beside the greedy
    chain and the cascade's vote, on the GPU-written items that have eight sampled chains."""
    from llama_cpp import Llama

    from ponder.llm.registry import resolve_model
    from ponder.machine import machine_info
    from ponder.tools.answers import equivalent

    vocab = Llama(str(resolve_model("default")), vocab_only=True, verbose=False)
    rows = [json.loads(line) for path in (ROUTES, SC_ROUTES) for line in path.read_text(encoding="utf-8").splitlines()]
    by_item = {i: routes for i, routes in _grouped(rows).items() if all(n in routes for n in range(0, 18, 2))}
    tokens = {(r["id"], r["n"]): len(vocab.tokenize(r["text"].removeprefix("```python\n").encode(), add_bos=False))
              for r in rows if r["id"] in by_item}
    replays = _replays(by_item)
    right = lambda answer, i: bool(answer) and equivalent(answer, by_item[i][0]["reference"])  # noqa: E731
    plain = [by_item[i][0]["correct"] for i in replays]
    table = [{"name": "plain chain (greedy)", "correct": sum(plain), "mean_tokens": _mean(tokens[(i, 0)] for i in replays)},
             {"name": "cascade (samples=6)", "correct": sum(right(a, i) for i, (a, _) in replays.items()),
              "mean_tokens": _mean(sum(tokens[(i, n)] for n in read) for i, (_, read) in replays.items()),
              "vs_plain": quality.paired([right(a, i) for i, (a, _) in replays.items()], plain)}]
    for k in range(1, 9):
        chains = range(2, 2 + 2 * k, 2)
        got = [right(quality.majority(by_item[i][n] for n in chains), i) for i in replays]
        table.append({"name": f"self-consistency k={k}", "correct": sum(got),
                      "mean_tokens": _mean(sum(tokens[(i, n)] for n in chains) for i in replays),
                      "vs_plain": quality.paired(got, plain)})
    result = {"date": quality.datetime.now(quality.timezone.utc).isoformat(timespec="seconds"),
              "commit": quality._commit(), "machine": machine_info(), "command": "python " + " ".join(sys.argv),
              "routes": "written by probe_gpu.py on one NVIDIA H100 (transformers, bf16); tokens counted with the "
                        "default model's tokenizer", "items": len(replays), "table": table}
    lines = ["# Plain self-consistency against the cascade, on GPU-written routes", "",
             f"- date: {result['date']}; commit: {result['commit']}; command: `{result['command']}`",
             f"- {result['items']} training problems (positions 300.. of the fixed shuffle, none in the pool), "
             f"{result['routes']}; sampled chains at temperature {TEMPERATURE}", "",
             "| configuration | right | accuracy | mean tokens | vs plain chain (won/lost, p) |", "|---|---|---|---|---|"]
    for row in table:
        vs = row.get("vs_plain")
        split = f"{vs['wins']}/{vs['losses']} (p {quality.format_p(vs['p'])})" if vs else ""
        lines.append(f"| {row['name']} | {row['correct']}/{len(replays)} | {row['correct'] / len(replays):.1%} | "
                     f"{row['mean_tokens']} | {split} |")
    (RESULTS / "sc_gpu.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (RESULTS / "sc_gpu.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def _mean(values) -> float:  # type: ignore[no-untyped-def]
    values = list(values)
    return round(sum(values) / max(1, len(values)), 1)


def markdown(result: dict[str, Any]) -> str:
    """The results as a short page."""
    best = result["chosen"]
    lines = [
        "# An outcome probe on the model's hidden states, against the cascade's vote", "",
        f"- date: {result['date']}; commit: {result['commit']}; machine: {result['machine'].get('cpu', '')}, "
        f"{result['machine'].get('cores', '')} cores (labels, probe, replay); {result['gpu_half']}",
        f"- command: `{result['command']}`; model: default (Qwen2.5-Coder-1.5B-Instruct Q4_K_M)",
        f"- training: {result['gen_items']} further training problems (positions 300.. of the fixed shuffle), six routes "
        "each written on the GPU (greedy chain and program, two sampled of each at temperature 0.7); "
        f"on them the cascade's vote replay answers {result['base_cv_cascade']} against the greedy chain's "
        f"{result['gen_plain']} ({result['gen_cascade_vs_plain']['wins']} won / {result['gen_cascade_vs_plain']['losses']} lost)",
        f"- chosen by 5-fold cross-validation on those items (by item): head `{result.get('head', 'logit')}`, feature "
        f"`{best['feature']}`, {'L2' if result.get('head', 'logit') == 'logit' else 'weight decay'} {best['l2']}, "
        f"rule `{best['rule']}`: {best['correct']}/{best['items']} against the vote's {result['base_cv_cascade']} "
        f"({best['vs_cascade']['wins']} won / {best['vs_cascade']['losses']} lost, p = {quality.format_p(best['vs_cascade']['p'])}); "
        f"route AUC {best['auc']}, within-item AUC {best['within_item_auc']}",
        f"- on the pool's routes (llama.cpp-written, never trained on): route AUC {result['pool_auc']}, within-item AUC "
        f"{result['pool_within_item_auc']} over {result['pool_within_pairs']} right/wrong pairs", "",
        "| pool items | n | plain chain | cascade vote | probe choice | best of the routes read | probe vs vote | probe vs plain |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in result["slices"].items():
        vs, vp = s["probe_vs_cascade"], s["probe_vs_plain"]
        lines.append(f"| {name} | {s['items']} | {s['plain']} | {s['cascade']} | {s['probe']} | {s['oracle_of_read']} | "
                     f"{vs['wins']}/{vs['losses']} (p {quality.format_p(vs['p'])}) | {vp['wins']}/{vp['losses']} (p {quality.format_p(vp['p'])}) |")
    lines += ["", "The probe chooses only among the routes the cascade read (the same tokens); it changes an "
              "answer only where those routes disagree.", "", "## Cross-validation on the GPU-written items", "",
              "| feature | L2 (logit) or weight decay (mlp) | rule | route AUC | within-item AUC | right | vs vote |", "|---|---|---|---|---|---|---|"]
    for c in result["cv"]:
        lines.append(f"| {c['feature']} | {c['l2']} | {c['rule']} | {c['auc']} | {c['within_item_auc']} | "
                     f"{c['correct']}/{c['items']} | {c['vs_cascade']['wins']}/{c['vs_cascade']['losses']} |")
    return "\n".join(lines) + "\n"


def _past_the_pool(text: str) -> int:
    """A shuffle position at or after the pool's items (the probe never trains on a pool item)."""
    value = arguments.offset(text)
    if value < POOL_ITEMS:
        raise argparse.ArgumentTypeError(f"{value} is inside the pool (positions 0..{POOL_ITEMS - 1})")
    return value


def main() -> None:
    parser = arguments.parser(__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inputs")
    p.add_argument("--gen-items", type=arguments.positive, default=500)
    p.add_argument("--gen-from", type=_past_the_pool, default=POOL_ITEMS, help="position in the fixed shuffle of the first item to write")
    p.add_argument("--written", type=arguments.existing_file, nargs="*", default=[], help="routes files written before (their states are read again)")
    p.set_defaults(run=inputs)
    p = sub.add_parser("label")
    p.add_argument("--gen-items", type=arguments.positive, default=500)
    p.add_argument("--gen-from", type=_past_the_pool, default=POOL_ITEMS)
    p.add_argument("--states", type=Path, default=PROBE / "states")
    p.add_argument("--out", type=arguments.file_to_write, default=ROUTES)
    p.set_defaults(run=label)
    p = sub.add_parser("sc-inputs")
    p.add_argument("--items", type=int, default=256)
    p.add_argument("--chains", type=int, default=6)
    p.set_defaults(run=sc_inputs)
    p = sub.add_parser("self-consistency")
    p.set_defaults(run=self_consistency)
    p = sub.add_parser("evaluate")
    p.add_argument("--states", type=Path, default=PROBE / "states")
    p.add_argument("--routes", type=arguments.existing_file, nargs="+", default=[ROUTES], help="the GPU-written routes to train on")
    p.add_argument("--features", nargs="+", default=list(FEATURES), choices=FEATURES)
    p.add_argument("--head", default="logit", choices=sorted(STRENGTHS), help="logistic regression or a small MLP")
    p.add_argument("--name", default="probe", type=arguments.plain_name, help="results file name (results/quality/NAME.{json,md})")
    p.add_argument("--gpu", default="probe_gpu.py on one NVIDIA H100 (transformers, bf16)", help="where the GPU half ran")
    p.set_defaults(run=evaluate)
    args = parser.parse_args()
    try:
        args.run(args)
    except FileNotFoundError as error:  # a step run before the one that writes its input
        sys.exit(f"quality_probe: {error.filename} is missing: run the steps in the order of the module's docstring")


if __name__ == "__main__":
    arguments.run(main)
