"""Trace round trip: the live stream and the saved file fold into the same tree."""

import json

import pytest

from ponder.agent.settings import RunConfig
from ponder.agent.strategies import STRATEGIES
from ponder.llm.fake import FakeBackend, by_purpose
from ponder.trace.events import RunStarted, UnknownEvent, from_record, to_record
from ponder.trace.jsonl import TraceWriter, read_trace
from ponder.trace.tree import fold
from tests.unit import scripts


def live_events():
    backend = FakeBackend(handler=by_purpose(scripts.CORRECTED))
    return list(STRATEGIES["chain"](backend, "q", RunConfig(review=False), run_id="r1", model="fake"))


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


def strategy_events(name, says, **config):
    backend = FakeBackend(handler=by_purpose(says))
    return list(STRATEGIES[name](backend, "q", RunConfig(**config), run_id="r2", model="fake"))


@pytest.mark.parametrize("name, says", [
    ("chain", scripts.in_turn(scripts.PASSING | scripts.REVISE, scripts.PASSING | scripts.ACCEPT)),
    ("vote", scripts.PASSING),
    ("best-of-n", scripts.PASSING),
])
def test_strategy_events_round_trip_and_fold_under_the_run(tmp_path, name, says):
    events = strategy_events(name, says, samples=2)
    for event in events:
        assert from_record(json.loads(json.dumps(to_record(event)))) == event
    write(tmp_path / "run.jsonl", events)
    read = read_trace(tmp_path / "run.jsonl")
    assert read.events == events and shape(fold(read.events)) == shape(fold(events))
    root = fold(events)
    rounds = [c for c in root.children if c.kind == "round"]
    assert [r.label for r in rounds] == ["round 1", "round 2"]
    assert not [e for e in root.events if getattr(e, "span", None)], "no spanned event may fall to the root"
    for r in rounds:
        assert any(e.type == "round_finished" for e in r.events)


def test_review_verdict_joins_its_review_step_under_the_round():
    root = fold(strategy_events("chain", scripts.PASSING | scripts.ACCEPT))
    (round_node,) = root.children
    review = [c for c in round_node.children if c.label == "review"][0]
    assert [e.type for e in review.events] == ["step_started", "step_finished", "review_verdict"]


def test_candidates_nest_under_their_sample_and_the_tally_under_the_run():
    root = fold(strategy_events("vote", scripts.PASSING, samples=2))
    for round_node in [c for c in root.children if c.kind == "round"]:
        assert [c.kind for c in round_node.children][-1] == "candidate_scored"
    assert [c.kind for c in root.children][-1] == "vote_tally"
