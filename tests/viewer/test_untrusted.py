"""Every field of a trace is untrusted: hostile values of any type never reach the terminal raw,
never crash the viewer or the export; folding and following stay linear; reads stay bounded."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import typing
from pathlib import Path

import pytest

from ponder.cli.viewer import detail as details
from ponder.cli.viewer.app import header_text, next_match, run_row
from ponder.cli.viewer.display import number, one_line, shown, utc
from ponder.cli.viewer.export import to_markdown
from ponder.cli.viewer.follow import Tail, follow
from ponder.cli.viewer.labels import answer_span, chosen_spans, event_label, node_label
from ponder.cli.viewer.messages import FollowFailed, TraceAppended
from ponder.cli.viewer.runs import scan, summarize_file
from ponder.cli.viewer.source import load_bytes, load_path, parse
from ponder.trace.events import EVENT_TYPES, RunFinished, StepStarted, TextDelta, UnknownEvent
from ponder.trace.tree import MAX_DEPTH, Folding, fold
from tests.viewer.helpers import REAL, lines_of, record

ESCAPE = "\x1b]0;TITLE\x07\x1b[31m\x9b2J\u202e"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
DEEP: object = "bottom"
for _ in range(40):
    DEEP = [DEEP]
HOSTILE = [None, ESCAPE, 10**4000, -1, 1e308, float("nan"), True, [ESCAPE, [ESCAPE]], {ESCAPE: {"k": ESCAPE}}, DEEP]


def test_shown_writes_any_value_as_visible_text():
    assert shown(ESCAPE) == "\\x1b]0;TITLE\\x07\\x1b[31m\\x9b2J\\u202e"
    assert shown(None) == "n/a" and shown(None, none="") == ""
    assert shown(True) == "true" and shown(12) == "12" and shown(1.5) == "1.5"
    assert shown([1, ESCAPE]) == '[1, "\\u001b]0;TITLE\\u0007\\u001b[31m\\x9b2J\\u202e"]'
    assert not CONTROL.search(shown({ESCAPE: [ESCAPE]}))
    assert "too large" in shown(10**5000)  # more digits than Python will write
    assert number(ESCAPE, ".1f") == shown(ESCAPE) and number(2.25, ".1f") == "2.2" and number(None, ".3f") == "n/a"
    assert number([1], ".1f") == "[1]" and number(True, ".1f") == "true"
    assert one_line({"a": "b\nc"}, 8) == '{"a": "…' and one_line(None) == ""
    assert utc(1e300) == "1e+300" and utc(float("nan")) == "nan" and utc(ESCAPE) == shown(ESCAPE)


def _valid(hint: object) -> object:
    """A value of a declared type (for the fields the hostile value does not replace)."""
    args = typing.get_args(hint)
    if args and type(None) in args:
        return _valid(args[0])
    return {str: "x", int: 1, float: 1.0, bool: True}.get(hint, {} if typing.get_origin(hint) is dict else [])  # type: ignore[call-overload]


def hostile_lines() -> list[str]:
    """Every event type, every field given every hostile value in turn, inside the real trace."""
    out = []
    for kind, cls in EVENT_TYPES.items():
        hints = {k: v for k, v in typing.get_type_hints(cls).items() if k in {f.name for f in dataclasses.fields(cls)}}
        base = {name: _valid(hint) for name, hint in hints.items()}
        base.update({k: v for k, v in {"span": "h-" + kind, "parent": "s1", "run": "r"}.items() if k in base})
        for name in hints:
            for value in HOSTILE:
                out.append(json.dumps({"v": 1, "type": kind, **base, name: value}) + "\n")
            out.append(json.dumps({"v": 1, "type": kind, **{k: v for k, v in base.items() if k != name}}) + "\n")
    out.append(json.dumps({"v": 1, "type": "hologram", "span": ESCAPE, "parent": "s2", ESCAPE: HOSTILE[1:]}) + "\n")
    for value in HOSTILE:  # the type itself: a list or an object is no key of the event types
        out.append(json.dumps({"v": 1, "type": value, "run": "r", "span": "t-" + shown(value)[:20], "parent": "s1"}) + "\n")
    return out


def rendered(events: list) -> list[str]:
    """Everything the viewer and the export would show for these events, as plain strings."""
    root = fold(events)
    chosen, answer = chosen_spans(root), answer_span(root)
    texts = [to_markdown(events, ["warn " + ESCAPE]), header_text(events, False).plain]
    for node in root.walk():
        detail = details.describe(node)
        texts += [node_label(node, chosen, answer).plain, details.render_fields(detail).plain,
                  details.render_blocks(detail).plain, details.raw_json(node.events), detail.markdown or ""]
    for event in root.events:
        if isinstance(event, UnknownEvent):
            texts += [event_label(event).plain, details.render_blocks(details.describe_event(event)).plain]
    next_match(root, [], "x", None)
    return texts


def test_hostile_values_of_every_type_in_every_field_never_crash_and_never_reach_the_terminal():
    lines = lines_of(REAL)
    loaded = load_bytes("".join(lines[:-2] + hostile_lines() + lines[-2:]).encode())
    assert loaded.problem is None and loaded.warnings
    unfinished = [e for e in loaded.events if not isinstance(e, RunFinished)]  # totals from the steps
    for text in rendered(loaded.events) + rendered(unfinished):
        assert not CONTROL.search(text.replace("\n", "").replace("\t", "")), text[:200]


def test_ill_typed_events_are_shown_as_unknown_and_deep_ones_skipped_with_warnings():
    lines = lines_of(REAL)
    bad = [record(type="step_finished", run="r", ts=1.0, span="s2", factor="restate", text=None, stop_reason="stop",
                  completion_tokens="many", prompt_tokens=1, prompt_tokens_evaluated=1, seconds=1.0),
           record(type="text_delta", run="r", ts=1.0, span="s2", text=DEEP),
           record(type="step_started", run="r", ts=1.0, span="s99", parent="s1", index=3)]  # no factor
    read = parse(lines[:3] + bad)
    kinds = [e.record["type"] if isinstance(e, UnknownEvent) else e.type for e in read.events]
    assert kinds == ["run_started", "round_started", "step_started", "step_finished", "step_started"]
    assert all(isinstance(e, UnknownEvent) for e in read.events[3:])
    assert [w.split(";")[0] for w in read.warnings] == [
        "event step_finished (span s2) has a bad text (null)",
        "event text_delta (span s2) is nested deeper than 32 levels",
        "event step_started (span s99) lacks factor"]


def test_a_non_finite_number_written_as_a_string_reads_back_as_a_float():
    line = record(type="step_finished", run="r", ts=1.0, span="s2", factor="f", text="t", stop_reason="stop",
                  completion_tokens=1, prompt_tokens=1, prompt_tokens_evaluated=1, seconds="Infinity", confidence="NaN")
    (event,) = parse([line]).events
    assert event.seconds == float("inf") and event.confidence != event.confidence


def test_warnings_past_the_cap_are_counted_in_one_line():
    lines = [record(type="text_delta", run="r", ts=1.0, span="s2", text=None) for _ in range(50)]
    warnings = parse(lines).warnings
    assert len(warnings) == 21 and warnings[-1].startswith("30 more damaged")


def test_a_line_nested_too_deeply_for_json_is_a_warning_and_alone_a_problem():
    deep = "[" * 100_000 + "]" * 100_000 + "\n"
    lines = lines_of(REAL)
    loaded = load_bytes((lines[0] + deep + "".join(lines[1:])).encode())
    assert loaded.problem is None and loaded.warnings == ["line 2 cannot be read (nested too deeply or a number too long); skipped"]
    assert "not a ponder trace" in load_bytes(deep.encode()).problem


def test_spans_cannot_loop_or_nest_without_bound():
    lines = lines_of(REAL)[:2] + [record(type="step_started", run="r", ts=1.0, span="run", parent="s1", factor="f", index=1)]
    lines += [record(type="step_started", run="r", ts=1.0, span=f"d{i}", parent=f"d{i - 1}" if i else "run",
                     factor="f", index=i) for i in range(200)]
    root = fold(parse(lines).events)
    assert root.span == "run" and root.parent is None
    assert max(n.depth for n in root.walk()) == MAX_DEPTH
    assert chosen_spans(root) == set()  # walking up from any node ends
    assert "f" in to_markdown(parse(lines).events)


# Folding is linear: text is collected in parts and joined once.

def test_folding_collects_deltas_as_parts_and_joins_them_once():
    deltas = [TextDelta(run="r", span="s", text=f"t{i} ") for i in range(100_000)]
    root = fold([StepStarted(run="r", span="s", parent="run", factor="f", index=1), *deltas])
    step = root.children[0]
    assert len(step.parts) == 100_000  # appended, never concatenated one delta at a time
    assert step.text.startswith("t0 t1 ") and step.parts == [step.text]


def test_following_folds_only_the_new_events_into_the_same_tree():
    folding = Folding()
    folding.add([StepStarted(run="r", span="s", parent="run", factor="f", index=1)])
    step = folding.root.children[0]
    for batch in range(3):
        folding.add([TextDelta(run="r", span="s", text=f"{batch}{i}") for i in range(10)])
        assert folding.root.children[0] is step and len(step.parts) == (1 if batch else 0) + 10  # the joined text, then the new parts
        assert step.text.endswith(f"{batch}9") and len(step.parts) == 1


# Reads are bounded and refuse what is not a regular file.

def test_tail_reads_in_bounded_chunks_and_waits_for_a_long_line(tmp_path):
    path = tmp_path / "t.jsonl"
    lines = lines_of(REAL)
    path.write_text(lines[0])
    tail = Tail(path, chunk=64)
    events = []
    while True:
        read, pending = tail.read()
        events += read.events
        if tail.caught_up:
            break
    assert [e.type for e in events] == ["run_started"] and not pending
    long_line = record(type="text_delta", run="r", ts=1.0, span="s2", text="y" * 1000)
    with open(path, "a") as f:
        f.write(long_line[:500])
    read, pending = tail.read()
    assert read.events == [] and pending and len(tail.partial) == 1
    with open(path, "a") as f:
        f.write(long_line[500:])
    got = []
    while not tail.caught_up or not got:
        got += tail.read()[0].events
    assert got[0].text == "y" * 1000 and tail.partial == []


def test_following_stops_with_a_message_past_the_limit_or_on_a_fifo(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("".join(lines_of(REAL)[:30]))
    posted: list[object] = []
    follow(Tail(path, limit=1000), posted.append, lambda: bool(posted) and isinstance(posted[-1], FollowFailed),
           interval=0)
    assert isinstance(posted[-1], FollowFailed) and "grew past 1000 bytes" in posted[-1].reason
    assert any(isinstance(m, TraceAppended) for m in posted)
    fifo = tmp_path / "f.jsonl"
    os.mkfifo(fifo)
    posted.clear()
    follow(Tail(fifo), posted.append, lambda: bool(posted), interval=0)
    assert isinstance(posted[0], FollowFailed) and "FIFO" in posted[0].reason


def test_loading_refuses_fifos_and_devices_without_reading(tmp_path):
    fifo = tmp_path / "f.jsonl"
    os.mkfifo(fifo)
    assert "FIFO" in load_path(fifo).problem
    assert "device" in load_path(Path("/dev/zero")).problem


def test_the_run_list_lists_broken_files_and_never_raises(tmp_path):
    lines = lines_of(REAL)
    (tmp_path / "deep.jsonl").write_text("[" * 5000 + "]" * 5000 + "\n")
    (tmp_path / "typed.jsonl").write_text(json.dumps({**json.loads(lines[0]), "ts": ESCAPE}) + "\n")
    (tmp_path / "escape.jsonl").write_text("".join(lines[:-1]) + json.dumps(
        {**json.loads(lines[-1]), "status": ESCAPE, "usage": {"completion_tokens": ESCAPE, "seconds": [1]}}) + "\n")
    (tmp_path / "far.jsonl").write_text(json.dumps({**json.loads(lines[0]), "ts": 1e300}) + "\n")
    os.mkfifo(tmp_path / "fifo.jsonl")
    runs = {r.path.name: r for r in scan(tmp_path)}
    assert set(runs) == {"deep.jsonl", "typed.jsonl", "escape.jsonl", "far.jsonl"}
    assert runs["deep.jsonl"].status == "invalid" and "cannot be read" in runs["deep.jsonl"].question
    assert runs["typed.jsonl"].status == "invalid" and "bad ts" in runs["typed.jsonl"].question
    assert runs["escape.jsonl"].status == ESCAPE and runs["escape.jsonl"].tokens is None
    for run in runs.values():
        assert not any(CONTROL.search(cell.plain) for cell in run_row(run))
    assert summarize_file(tmp_path / "fifo.jsonl").status == "unreadable"


@pytest.mark.parametrize("status", [ESCAPE])
def test_the_header_shows_usage_values_of_any_type_as_visible_text(status):
    lines = lines_of(REAL)
    finished = {**json.loads(lines[-1]), "status": status,
                "usage": {"steps": ESCAPE, "completion_tokens": [ESCAPE], "seconds": {"s": ESCAPE}}}
    events = load_bytes(("".join(lines[:-1]) + json.dumps(finished) + "\n").encode()).events
    header = header_text(events, False).plain
    assert not CONTROL.search(header.replace("\n", "")) and "\\x1b]0;TITLE" in header


HUGE = int("1" + "0" * 400)  # a JSON integer past a float's range


def test_integers_past_a_floats_range_never_crash_the_run_list_or_the_export(tmp_path):
    lines = lines_of(REAL)
    (tmp_path / "unknown.jsonl").write_text("".join(lines) + json.dumps({"type": "x", "ts": HUGE}) + "\n")
    (tmp_path / "seconds.jsonl").write_text("".join(lines[:-1]) + json.dumps(
        {**json.loads(lines[-1]), "usage": {"seconds": HUGE}}) + "\n")
    runs = {r.path.name: r for r in scan(tmp_path)}
    assert runs["seconds.jsonl"].seconds is None and runs["unknown.jsonl"].status == runs["seconds.jsonl"].status
    for name in runs:
        loaded = load_path(tmp_path / name)
        assert to_markdown(loaded.events, loaded.warnings)


def test_a_trace_of_the_longest_question_ask_takes_is_listed_as_a_run(tmp_path):
    from ponder.inputs import MAX_QUESTION_BYTES

    lines = lines_of(REAL)
    question = "\u0001" * (MAX_QUESTION_BYTES // 2)  # six bytes each once escaped
    (tmp_path / "long.jsonl").write_text(json.dumps({**json.loads(lines[0]), "question": question}) + "\n"
                                         + "".join(lines[1:]))
    (run,) = scan(tmp_path)
    assert run.status != "invalid" and run.question == question


def test_following_stops_when_the_file_is_replaced_or_truncated(tmp_path):
    """It read the new file from the old offset and merged two runs, or waited forever."""
    from ponder.errors import PonderError

    lines = lines_of(REAL)
    path = tmp_path / "t.jsonl"
    path.write_text("".join(lines[:3]))
    tail = Tail(path)
    assert tail.read()[0].events
    other = tmp_path / "other.jsonl"
    other.write_text("".join(lines) * 2)
    os.replace(other, path)
    with pytest.raises(PonderError, match="replaced"):
        tail.read()
    path.write_text("".join(lines[:3]))
    tail = Tail(path)
    tail.read()
    path.write_text(lines[0])
    with pytest.raises(PonderError, match="truncated"):
        tail.read()
