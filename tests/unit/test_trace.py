"""Trace round trip: the live stream and the saved file fold into the same tree."""

import json
import os

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


def test_to_json_is_strict_ascii_json_whatever_the_values():
    from ponder.trace.jsonl import to_json

    text = to_json({"a": float("nan"), "b": [float("inf"), -float("inf")], "q": "caf\u00e9 \ud800", 1.5: 2})
    assert text.isascii()
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict {c}")) == {
        "a": "NaN", "b": ["Infinity", "-Infinity"], "q": "caf\u00e9 \ud800", "1.5": 2}


def test_a_lone_surrogate_round_trips_through_a_trace(tmp_path):
    event = RunStarted("r", question="q \ud800 \udcff", model="m")
    write(tmp_path / "run.jsonl", [event])
    assert read_trace(tmp_path / "run.jsonl").events == [event]


def failing_write(monkeypatch, after: int):
    """Make os.write (as the line writer sees it) write `after` bytes once, then fail as on a full disk."""
    import errno
    import os

    import ponder.trace.jsonl as jsonl

    real, calls = os.write, []

    def write(fd, data):
        calls.append(len(data))
        if after == 0 or len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, bytes(data[:after]))

    monkeypatch.setattr(jsonl.os, "write", write)


def test_a_failed_write_is_cut_back_to_the_last_whole_line(tmp_path, monkeypatch):
    from ponder.trace.jsonl import WriteError

    path = tmp_path / "run.jsonl"
    writer = TraceWriter(path)
    writer.write(RunStarted("r", question="q", model="m"))
    whole = path.read_bytes()
    failing_write(monkeypatch, after=7)  # a first partial write, then ENOSPC
    with pytest.raises(WriteError, match="cannot write the trace .*No space left"):
        writer.write(RunStarted("r", question="q" * 100, model="m"))
    writer.close()
    assert path.read_bytes() == whole


def test_a_trace_that_never_got_a_whole_line_is_removed(tmp_path, monkeypatch):
    from ponder.trace.jsonl import WriteError

    path = tmp_path / "run.jsonl"
    writer = TraceWriter(path)
    failing_write(monkeypatch, after=0)
    with pytest.raises(WriteError):
        writer.write(RunStarted("r", question="q", model="m"))
    writer.close()
    assert not path.exists()


def test_an_unusable_trace_directory_is_one_write_error(tmp_path):
    from ponder.trace.jsonl import WriteError

    (tmp_path / "file").write_text("")
    with pytest.raises(WriteError, match="cannot write the trace"):
        TraceWriter(tmp_path / "file" / "run.jsonl")


@pytest.fixture
def installed_handlers():
    import signal

    from ponder import interrupts

    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    interrupts.install()
    yield interrupts
    signal.signal(signal.SIGINT, saved[0])
    signal.signal(signal.SIGTERM, saved[1])


def test_a_signal_inside_held_is_raised_when_the_block_ends(installed_handlers):
    import os
    import signal

    interrupts = installed_handlers
    finished = False
    with pytest.raises(interrupts.Terminated):
        with interrupts.held():
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))  # the handler runs here, between bytecodes, and only notes it
            finished = True
    assert finished and interrupts.exit_code() == 143
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))
    assert interrupts.exit_code() == 130


def test_a_second_signal_while_one_is_held_raises_at_once(installed_handlers):
    import os
    import signal

    interrupts = installed_handlers
    reached = []
    with pytest.raises(interrupts.Terminated):
        with interrupts.held():  # as a write blocked on a reader that stalls
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))
            reached.append("held the first")
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))
            reached.append("past the second")
    assert reached == ["held the first"] and interrupts._state["pending"] == 0


def test_a_line_cut_by_a_second_signal_is_cut_back_in_a_file(installed_handlers, tmp_path, monkeypatch):
    from ponder.trace import jsonl

    out = jsonl.LineFile(tmp_path / "r.jsonl", "results file")
    out.write_line('{"id": "1"}')

    def torn(fd, data):  # the write stops part-way, as a blocked one a second Ctrl-C ends
        os.write(fd, data[:5])
        raise KeyboardInterrupt

    monkeypatch.setattr(jsonl, "_write_all", torn)
    with pytest.raises(KeyboardInterrupt):
        out.write_line('{"id": "2"}')
    assert (tmp_path / "r.jsonl").read_text() == '{"id": "1"}\n'


def test_a_signal_held_while_the_block_fails_is_not_kept_for_a_later_block(installed_handlers):
    import os
    import signal

    interrupts = installed_handlers
    with pytest.raises(OSError):
        with interrupts.held():
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))
            raise OSError("disk full")
    with interrupts.held():  # a later, unrelated block ends without an old signal firing
        pass


def test_a_record_written_when_a_signal_comes_counts_as_done(installed_handlers, tmp_path, monkeypatch):
    import signal

    from ponder.batch.results import ResultsFile
    from ponder.trace.jsonl import LineFile

    results = ResultsFile(tmp_path / "r.jsonl")
    whole = LineFile.write_line

    def signalled(self, text):
        os.kill(os.getpid(), signal.SIGINT)  # arrives while the line is written: held
        whole(self, text)

    monkeypatch.setattr(LineFile, "write_line", signalled)
    with pytest.raises(KeyboardInterrupt):
        results.write({"id": "1", "status": "ok"})
    results.close()
    assert results.done == {"1": "ok"} and (tmp_path / "r.jsonl").read_text().count("\n") == 1


def test_an_interrupt_while_the_cli_imports_is_one_line_not_a_traceback():
    import subprocess
    import sys

    code = ("import sys\n"
            "class Interrupting:\n"
            "    def find_spec(self, name, path, target=None):\n"
            "        if name == 'ponder.cli.app':\n"
            "            raise KeyboardInterrupt\n"
            "sys.meta_path.insert(0, Interrupting())\n"
            "from ponder.cli.entry import main\n"
            "main()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 130 and done.stderr == b"ponder: interrupted\n"
