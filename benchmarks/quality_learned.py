"""Benchmark (offline, on the quality pool): does a learned choice among the cascade's answer
groups beat its plain vote? Issue 12's "learned score", tried before shipping one.

For every item whose two greedy routes disagree and whose first K routes are in the pool,
each answer group (equivalent answers, `tools.answers`) gets features the run already has:
its share of the chain-of-thought votes and of the program votes, whether both routes
reached it, whether the greedy chain and the greedy program did, whether it is a whole
number, and the log length of its chains. A logistic regression (numpy, L2) is trained
leave-one-item-out on the other items and picks the group with the highest score; the
cascade's vote (one vote per route, +1 for a group both routes reached) is scored on the
same items, and so is the oracle (any route right).

    python benchmarks/quality_learned.py 4     # K = 4 routes; then 6

Never run on GSM8K test (the pool holds training problems only).
"""
import collections
import json
import math
import sys
from pathlib import Path

import numpy as np

from ponder.tools.answers import equivalent, normalize_answer

LINES: list[str] = []


def say(line: str) -> None:
    """Print a result line and keep it for the results file."""
    print(line)
    LINES.append(line)


sys.path.insert(0, str(Path(__file__).parent))
import arguments  # noqa: E402

_parser = arguments.parser(__doc__)
_parser.add_argument("k", nargs="?", type=arguments.at_least(2), default=4, help="routes read per item (default 4)")
K = _parser.parse_args().k
POOL = Path(__file__).parent / "results" / "quality" / "pool.jsonl"
rows = [json.loads(line) for line in POOL.open(encoding="utf-8")]
pool = collections.defaultdict(dict)
for r in rows: pool[r['id']][r['n']] = r
items = [i for i, rs in pool.items() if all(n in rs for n in range(K))]
def agree(rs):
    a, b = rs[0]['answer'], rs[1]['answer']
    return bool(a) and bool(b) and equivalent(normalize_answer(a), normalize_answer(b))
dis = [i for i in items if not agree(pool[i])]
say(f"K={K}: items with routes {len(items)}, disagreeing {len(dis)}")

def groups(rs):
    gs = []
    for n in range(K):
        r = rs[n]
        if not r['answer']: continue
        a = normalize_answer(r['answer'])
        if not a.normalized: continue
        home = next((g for g in gs if equivalent(g['a'], a)), None)
        if home is None:
            home = {'a': a, 'm': []}; gs.append(home)
        home['m'].append(r)
    return gs

def isint(a):
    try: v = float(a.normalized)
    except Exception: return 0.0
    return 1.0 if abs(v - round(v)) < 1e-6 and v >= 0 else 0.0

def feats(g, gs, rs):
    m = g['m']; ns = {r['n'] for r in m}
    answered = sum(1 for n in range(K) if rs[n]['answer'])
    reasons = [r for r in m if r['route'] == 'reason']; progs = [r for r in m if r['route'] == 'program']
    nr = sum(1 for n in range(K) if n % 2 == 0); npg = K - nr
    return [len(reasons) / nr, len(progs) / npg, float(bool(reasons) and bool(progs)),
            float(0 in ns), float(1 in ns), isint(g['a']),
            np.mean([math.log(1 + r['completion_tokens']) for r in reasons]) / 6 if reasons else 0.0]
NAMES = ['reason_frac', 'program_frac', 'both', 'greedy_reason', 'greedy_program', 'integer', 'log_len_reason']

data = []
for i in dis:
    rs = pool[i]; gs = groups(rs)
    X = np.array([feats(g, gs, rs) for g in gs]) if gs else np.zeros((0, len(NAMES)))
    y = np.array([float(g['m'][0]['correct']) for g in gs])
    data.append((i, X, y))

def fit(Xs, ys, l2=1.0, steps=3000, lr=0.1):
    X = np.vstack(Xs); y = np.concatenate(ys)
    X1 = np.hstack([X, np.ones((len(X), 1))]); w = np.zeros(X1.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-X1 @ w))
        g = X1.T @ (p - y) / len(y) + l2 * np.r_[w[:-1], 0] / len(y)
        w -= lr * g * 10
    return w

def choose(w, X):
    X1 = np.hstack([X, np.ones((len(X), 1))]); return int(np.argmax(X1 @ w))

def majority(X):  # cascade's vote: count votes (reason+program fracs scaled) + bonus for both
    nr = sum(1 for n in range(K) if n % 2 == 0); npg = K - nr
    s = X[:, 0] * nr + X[:, 1] * npg + X[:, 2]
    return int(np.argmax(s - 1e-3 * np.arange(len(s)) + 1e-4 * X[:, 3]))

for l2 in (0.1, 1.0, 10.0):
    right_l = right_m = 0
    for k, (i, X, y) in enumerate(data):
        if not len(y): continue
        train = [(X2, y2) for j, (_, X2, y2) in enumerate(data) if j != k and len(y2)]
        w = fit([a for a, _ in train], [b for _, b in train], l2=l2)
        right_l += y[choose(w, X)]; right_m += y[majority(X)]
    say(f"l2={l2}: learned {int(right_l)}/{len(data)}  majority {int(right_m)}/{len(data)}  oracle {sum(int(y.max()) if len(y) else 0 for _,_,y in data)}")
w = fit([X for _, X, y in data if len(y)], [y for _, X, y in data if len(y)])
say("weights on all items (l2=1): " + ", ".join(f"{n} {v:+.2f}" for n, v in zip(NAMES + ["bias"], w)))

from datetime import datetime, timezone  # noqa: E402

from quality import _commit  # noqa: E402

from ponder.machine import machine_info  # noqa: E402

machine = machine_info()
head = [f"# Learned choice against the cascade's vote, K = {K} routes", "",
        f"- date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}; commit: {_commit()}; "
        f"machine: {machine.get('cpu', '')}, {machine.get('cores', '')} cores; model: default (the quality pool)",
        f"- command: `python benchmarks/quality_learned.py {K}`", ""]
out = POOL.parent / f"learned_k{K}.md"
out.write_text("\n".join(head + [f"- {line}" for line in LINES]) + "\n", encoding="utf-8")
