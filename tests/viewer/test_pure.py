"""The viewer's pure parts: loading, the run list, labels, search, the tree of unknown events."""

from __future__ import annotations

import json
import os
import shutil

from ponder.cli.viewer.app import hard_breaks, next_match
from ponder.cli.viewer.labels import answer_span, chosen_spans, node_label
from ponder.cli.viewer.runs import filter_runs, scan, summarize_file
from ponder.cli.viewer.source import load_bytes, load_path, split_lines
from ponder.trace.events import UnknownEvent
from ponder.trace.tree import fold
from tests.viewer.helpers import DATA, REAL, lines_of, record


def test_split_lines_only_on_newline_and_keeps_partial_for_later():
    data = "a\u2028b\nsecond\npart".encode()
    lines, used = split_lines(data, whole_only=True)
    assert lines == ["a\u2028b\n", "second\n"]
    assert data[used:] == b"part"
    assert split_lines(data, whole_only=False)[0][-1] == "part"


def test_real_trace_loads_cleanly():
    loaded = load_path(REAL)
    assert loaded.problem is None and loaded.warnings == [] and not loaded.pending
    assert len(loaded.events) == len(lines_of(REAL))


def test_truncated_trace_warns_unless_following():
    path = DATA / "truncated.jsonl"
    assert load_path(path).warnings == [f"line {len(lines_of(path))} last line is truncated; skipped"]
    following = load_path(path, follow=True)
    assert following.warnings == [] and following.pending


def test_a_file_that_is_not_a_trace_is_a_problem_not_an_error():
    assert "not a ponder trace" in load_path(DATA / "not_a_trace.csv").problem
    assert "not a ponder trace" in load_bytes(b'{"hello": 1}\n[1, 2]\n').problem
    assert "empty" in load_bytes(b"").problem
    assert load_bytes(b"", follow=True).problem is None
    assert "missing.jsonl: not found" in load_path(DATA / "missing.jsonl").problem


def test_scan_lists_newest_first_and_marks_files_that_are_not_traces(tmp_path):
    lines = lines_of(REAL)
    older = tmp_path / "older.jsonl"
    older.write_text("".join(lines).replace("What is 17 * 23?", "Older question"))
    newer = tmp_path / "newer.jsonl"
    started = json.loads(lines[0])
    started["ts"] += 3600
    newer.write_text(json.dumps(started) + "\n" + "".join(lines[1:5]))
    (tmp_path / "junk.jsonl").write_text("not json\n")
    os.utime(tmp_path / "junk.jsonl", (1_000_000, 1_000_000))  # listed by its mtime: oldest
    (tmp_path / "notes.txt").write_text("ignored")
    runs = scan(tmp_path)
    assert [r.path.name for r in runs] == ["newer.jsonl", "older.jsonl", "junk.jsonl"]
    assert (runs[0].status, runs[0].answer, runs[0].tokens) == ("running", "", None)
    assert (runs[1].status, runs[1].answer, runs[1].tokens, runs[1].seconds) == ("ok", "391", 350, 44.411)
    assert runs[2].status == "invalid"
    assert [r.path.name for r in filter_runs(runs, "older 391")] == ["older.jsonl"]
    assert filter_runs(runs, "nothing like this") == []


def test_summary_reads_only_head_and_tail_of_a_large_trace(tmp_path):
    lines = lines_of(REAL)
    padding = [record(type="text_delta", run="r", ts=1.0, span="s2", text="x" * 500)] * 400
    path = tmp_path / "big.jsonl"
    path.write_text(lines[0] + "".join(padding) + "".join(lines[1:]))
    summary = summarize_file(path)
    assert (summary.question, summary.answer, summary.status) == ("What is 17 * 23?", "391", "ok")


def test_chosen_path_is_the_answer_step_and_the_steps_before_it_in_its_round():
    events = load_path(REAL).events
    root = fold(events)
    assert answer_span(root) == "s22"
    steps = [n.span for n in root.walk() if n.kind == "step"]
    assert chosen_spans(root) == {"run", "s1", *steps}
    assert "→ 391" in node_label(next(n for n in root.walk() if n.span == "s22"), chosen_spans(root), "s22").plain


def test_steps_of_an_earlier_round_are_off_the_chosen_path():
    events = load_path(REAL).events
    second = [e for e in load_bytes("".join(
        record(type=t["type"], **{k: v for k, v in t.items() if k not in ("v", "type")})
        for t in _renamed(lines_of(REAL))).encode()).events]
    root = fold([e for e in events if e.type not in ("answer", "run_finished")] + second)
    chosen = chosen_spans(root)
    first_round_steps = {n.span for n in root.children[0].children if n.kind == "step"}
    assert root.children[1].span in chosen and not (first_round_steps & chosen)
    off = next(n for n in root.children[0].children if n.kind == "step")
    label = node_label(off, chosen, answer_span(root))
    assert any(s.style == "dim" and (s.start, s.end) == (0, len(label)) for s in label.spans)
    on_path = next(n for n in root.children[1].children if n.kind == "step")
    label = node_label(on_path, chosen, answer_span(root))
    assert not any(s.style == "dim" and (s.start, s.end) == (0, len(label)) for s in label.spans)


def _renamed(lines):
    for line in lines[1:]:
        rec = json.loads(line)
        for key in ("span", "parent"):
            if rec.get(key, "run") != "run":
                rec[key] = "r2" + rec[key]
        if rec["type"] == "round_started":
            rec["index"] = 2
        yield rec


def test_unknown_events_with_a_span_nest_as_generic_nodes():
    lines = lines_of(REAL)[:3] + [
        record(type="candidate_scored", run="r", ts=2.0, span="c1", parent="s1", score=0.75),
        record(type="vote_cast", run="r", ts=3.0, span="c1", votes=3),
        record(type="hologram", run="r", ts=4.0),
    ]
    root = fold(load_bytes("".join(lines).encode()).events)
    candidate = next(n for n in root.walk() if n.span == "c1")
    assert (candidate.kind, candidate.parent) == ("candidate_scored", "s1")
    assert [e.record["type"] for e in candidate.events] == ["candidate_scored", "vote_cast"]
    assert [e.record["type"] for e in root.events if isinstance(e, UnknownEvent)] == ["hologram"]


def test_search_finds_the_next_match_and_wraps():
    root = fold(load_path(REAL).events)
    assert next_match(root, [], "MISMATCH", None) == "s5"
    assert next_match(root, [], "mismatch", "s5") == "s10"
    assert next_match(root, [], "left side 221", "s20") == "s21"
    assert next_match(root, [], "left side 221", "s21") == "s5"  # wraps to the first step that shows it
    assert next_match(root, [], "no such text anywhere", None) is None


def test_hard_breaks_keep_model_line_breaks_outside_fences():
    text = "a = 1\nb = 2\n```python\nprint(1)\n```\nend"
    assert hard_breaks(text) == "a = 1  \nb = 2  \n```python\nprint(1)\n```\nend  "


def test_fixture_files_are_unchanged_by_reading(tmp_path):
    copy = tmp_path / "t.jsonl"
    shutil.copy(REAL, copy)
    before = os.stat(copy).st_size
    load_path(copy, follow=True)
    assert os.stat(copy).st_size == before


def test_a_search_tree_marks_only_the_answers_ancestors_and_labels_node_statistics():
    from tests.conftest import run_on_fake
    from tests.unit.test_search import PASS_ALL

    events = run_on_fake("mcts", PASS_ALL, samples=3).events
    root = fold(events)
    target = answer_span(root)
    by_span = {n.span: n for n in root.walk()}
    path, node = [], by_span[target]
    while node.parent is not None:
        path.append(node.span)
        node = by_span[node.parent]
    chosen = chosen_spans(root)
    assert chosen == set(path) | {"run"} and len([s for s in chosen if by_span[s].label == "restate"]) == 1
    assert "N=" in node_label(by_span[target], chosen, target).plain
