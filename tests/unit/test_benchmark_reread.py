"""The re-reading ablation: its pool puts the reread routes first and keeps the main pool's
samples; the plain chain stays the baseline; an item is scored only where both cascades replay."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import quality_reread  # noqa: E402


def row(item, n, answer, reference="5", tokens=10):
    return {"id": item, "n": n, "answer": answer, "reference": reference, "correct": answer == reference,
            "completion_tokens": tokens}


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_seeding_renumbers_the_reread_routes_and_keeps_the_samples(tmp_path):
    main, reread, out = tmp_path / "main.jsonl", tmp_path / "reread.jsonl", tmp_path / "out.jsonl"
    write(main, [row("a", 0, "4"), row("a", 1, "6"), row("a", 2, "5"), row("b", 2, "9")])
    write(reread, [row("a", 2, "5"), row("a", 3, "5")])
    assert quality_reread.seed(main, reread, out) == 1
    seeded = sorted((r["id"], r["n"], r["answer"]) for r in map(json.loads, out.read_text().splitlines()))
    assert seeded == [("a", 0, "5"), ("a", 1, "5"), ("a", 2, "5")]  # b has no reread routes; a's main 0, 1 are replaced
    write(out, [*map(json.loads, out.read_text().splitlines()), row("a", 3, "6")])  # a sample decoded into the pool
    quality_reread.seed(main, reread, out)
    seeded = sorted((r["id"], r["n"], r["answer"]) for r in map(json.loads, out.read_text().splitlines()))
    assert seeded == [("a", 0, "5"), ("a", 1, "5"), ("a", 2, "5"), ("a", 3, "6")]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_the_plain_chain_is_the_baseline_and_unreplayable_items_are_left_out():
    main = {"a": {0: row("a", 0, "4"), 1: row("a", 1, "5"), 2: row("a", 2, "5"), 3: row("a", 3, "5")},
            "b": {0: row("b", 0, "5"), 1: row("b", 1, "5")},
            "c": {0: row("c", 0, "5"), 1: row("c", 1, "5")}}
    reread = {"a": {0: row("a", 0, "5"), 1: row("a", 1, "5"), 2: row("a", 2, "5"), 3: row("a", 3, "5")},
              "b": {0: row("b", 0, "5"), 1: row("b", 1, "7")},  # disagrees, and no sampled routes: not replayable
              "c": {0: row("c", 0, "5"), 1: row("c", 1, "5", tokens=4)}}
    questions = {"a": "How many?", "b": "How many?", "c": "How many?"}
    result = quality_reread.compare(main, reread, questions, [4])
    assert result["items"] == ["a", "c"]
    table = result["table"]
    assert [ok for ok, _ in table["plain chain of thought (greedy, the makers' prompt)"]] == [False, True]
    assert [ok for ok, _ in table["chain, the question read twice (greedy)"]] == [True, True]
    assert table["cascade (samples=4), the makers' first routes"] == [(True, 40), (True, 20)]
    assert table["cascade (samples=4), first routes reading twice"] == [(True, 20), (True, 14)]


def test_each_pool_reports_into_its_own_file():
    results = quality_reread.quality.RESULTS
    assert quality_reread.results_file(quality_reread.CASCADE_POOL, 0).name == "reread.md"
    assert quality_reread.results_file(quality_reread.CASCADE_POOL, 150).name == "reread_from150.md"
    assert quality_reread.results_file(results / "pool_reread_programs.jsonl", 150).name == "reread_programs_from150.md"


def test_a_missing_pool_is_a_usage_error_and_writes_nothing(tmp_path, monkeypatch, capsys):
    import pytest

    monkeypatch.setattr(sys, "argv", ["quality_reread.py", "report", "--pool", str(tmp_path / "nope.jsonl")])
    with pytest.raises(SystemExit) as stop:
        quality_reread.main()
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"quality_reread.py: error: no pool at {tmp_path / 'nope.jsonl'}"
    assert list(tmp_path.iterdir()) == []
