"""`ponder batch` and `ponder eval` on the real default model (three questions each)."""

from __future__ import annotations

import json

from ponder.cli.options import DEFAULT_STRATEGY
from tests.cli_helpers import ponder

QUESTIONS = [
    {"id": "apples", "question": "Tom has 5 apples and buys 7 more. How many apples does he have?", "answer": "12"},
    {"id": "sum", "question": "What is 9 + 10?", "answer": "19"},
    {"id": "eggs", "question": "Janet has 16 eggs. She eats 3 and bakes with 4. How many eggs are left?",
     "answer": "#### 9"},
]


def write_dataset(path):
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return path


def test_batch_of_three_on_the_real_model(tmp_path):
    data = write_dataset(tmp_path / "q.jsonl")
    out = tmp_path / "out.jsonl"
    done = ponder("batch", str(data), "-o", str(out), "--max-tokens", "700", "--trace-dir", str(tmp_path / "t"))
    assert done.returncode == 0, done.stderr.decode()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == ["apples", "sum", "eggs"]
    assert all(r["status"] == "ok" and r["answer"] for r in records)
    assert sum(r["correct"] for r in records) >= 2
    assert len(list((tmp_path / "t").iterdir())) == 3
    assert done.stderr == b""


def test_eval_of_three_on_the_real_model(tmp_path):
    data = write_dataset(tmp_path / "q.jsonl")
    done = ponder("eval", str(data), "--max-tokens", "700", "--out-dir", str(tmp_path / "ev"), "--no-trace")
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    default = report["strategies"][DEFAULT_STRATEGY]
    assert default["questions"] == 3 and default["correct"] >= 2
    assert default["mean_completion_tokens"] > 0 and default["seconds_per_question"] > 0
    assert (tmp_path / "ev" / "accuracy_vs_tokens.png").stat().st_size > 1000
    assert DEFAULT_STRATEGY.encode() in done.stdout
