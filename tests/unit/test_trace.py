"""Trace round trip: the live stream and the saved file fold into the same tree."""

import json

import pytest

from ponder.agent.chain import ChainConfig
from ponder.agent.run import run_question
from ponder.llm.fake import FakeBackend
from ponder.trace.events import RunStarted, UnknownEvent, from_record, to_record
from ponder.trace.jsonl import TraceWriter, read_trace
from ponder.trace.tree import fold
from tests.unit import scripts


def live_events():
    return list(run_question(FakeBackend(scripts.CORRECTED), "q", ChainConfig(), run_id="r1", model="fake"))


def shape(node):
    return (node.kind, node.label, node.text, [shape(c) for c in node.children])


def write(path, events):
    with TraceWriter(path) as writer:
        for event in events:
            writer.write(event)


def test_saved_trace_folds_into_the_same_tree(tmp_path):
    events = live_events()
    write(tmp_path / "run.jsonl", events)
    read = read_trace(tmp_path / "run.jsonl")
    assert read.warnings == []
    assert read.events == events
    assert shape(fold(read.events)) == shape(fold(events))


def test_tree_nests_rounds_steps_and_tool_calls():
    root = fold(live_events())
    (round_node,) = root.children
    assert round_node.kind == "round"
    labels = [c.label for c in round_node.children]
    assert labels == ["restate", "decompose", "hypothesize", "verify", "correct", "verify", "answer"]
    verify = round_node.children[3]
    assert [c.kind for c in verify.children] == ["tool"]


def test_every_line_carries_the_schema_version(tmp_path):
    write(tmp_path / "run.jsonl", live_events())
    lines = (tmp_path / "run.jsonl").read_text().splitlines()
    assert lines and all(json.loads(line)["v"] == 1 for line in lines)


def test_truncated_last_line_and_unknown_types_are_tolerated(tmp_path):
    path = tmp_path / "run.jsonl"
    good = json.dumps(to_record(RunStarted("r", question="q", model="m")))
    newer = json.dumps({"v": 9, "type": "hologram", "run": "r", "ts": 1.0})
    path.write_text(good + "\n" + newer + "\n" + good[:20])
    read = read_trace(path)
    assert len(read.events) == 2
    assert isinstance(read.events[1], UnknownEvent)
    assert read.warnings == ["line 3 last line is truncated; skipped"]


def test_record_round_trip_ignores_unknown_fields():
    record = to_record(RunStarted("r", question="q", model="m"))
    record["added_in_v2"] = True
    assert from_record(record) == RunStarted("r", question="q", model="m", ts=record["ts"])


def test_writer_refuses_to_overwrite_an_existing_trace(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text("keep me")
    with pytest.raises(FileExistsError):
        TraceWriter(path)
    assert path.read_text() == "keep me"
