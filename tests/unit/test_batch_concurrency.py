"""`ponder batch --concurrency K`: the pool of items in flight (`ponder.batch.pool`) on the fake
backend, then `ponder batch` and `ponder eval` as processes against the stub OpenAI-compatible
server of test_openai_http, which counts the completions it is serving at once."""

from __future__ import annotations

import _thread
import json
import re
import signal
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ponder import interrupts
from ponder.agent.settings import ChainConfig, RunConfig
from ponder.batch.items import Item
from ponder.batch.pool import Pool
from ponder.batch.runner import ItemTrace, Stopped, run_item
from ponder.llm.fake import FakeBackend, by_purpose
from ponder.llm.loader import DEMO
from ponder.trace.events import RunFinished, RunStarted
from ponder.trace.jsonl import WriteError
from tests.cli_helpers import PONDER, ponder
from tests.unit.test_openai_http import Stub, completion

CONFIG = RunConfig(chain=ChainConfig(sandbox="off"))


def demo_backend(delay: float = 0.0) -> FakeBackend:
    return FakeBackend(handler=by_purpose(DEMO), delay=delay)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def finishes(trace: Path) -> list[str]:
    """The statuses of a trace's run_finished events (a closed trace has one, on its last line)."""
    events = lines(trace)
    statuses = [e["status"] for e in events if e["type"] == "run_finished"]
    assert events[-1]["type"] == "run_finished", trace
    return statuses


# -- the pool -----------------------------------------------------------------------------


def test_the_pool_keeps_width_items_in_flight_and_gives_each_result_once():
    lock, running, most = threading.Lock(), [0], [0]

    def work(task: int, trace: ItemTrace) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05 + 0.01 * (task % 3))
        with lock:
            running[0] -= 1
        return task * 10

    with Pool(3, None, grace=1.0) as pool:
        got = list(pool.run(range(10), work))
    assert sorted(got) == [(t, t * 10) for t in range(10)]
    assert most[0] == pool.most_in_flight == 3


def test_items_run_on_one_shared_fake_backend_each_with_its_own_trace(tmp_path):
    backend = demo_backend(delay=0.0005)
    items = [Item(str(i), f"What is 17 * {i}?", i) for i in range(1, 6)]
    with Pool(2, tmp_path, grace=1.0) as pool:
        records = [r for _, r in pool.run(items, lambda item, trace: run_item(backend, item, CONFIG, "cascade", "fake",
                                                                               tmp_path, trace))]
    assert sorted(r["id"] for r in records) == ["1", "2", "3", "4", "5"]
    assert all(r["status"] == "ok" and r["answer"] == "391" for r in records)
    traces = {r["trace"] for r in records}
    assert len(traces) == 5 and set(map(str, tmp_path.iterdir())) == traces
    for record in records:
        events = lines(Path(record["trace"]))
        assert len({e["run"] for e in events}) == 1 and finishes(Path(record["trace"])) == ["ok"]


def test_stopping_ends_the_items_in_flight_as_interrupted_and_gives_none_of_their_results(tmp_path):
    backend = FakeBackend(["word " * 2000], cycle=True, delay=0.02)  # each item streams for tens of seconds
    items = [Item(str(i), f"q{i}", i) for i in range(6)]

    def ctrl_c_once_three_run() -> None:
        while len(list(tmp_path.glob("*.jsonl"))) < 3:
            time.sleep(0.01)
        time.sleep(0.1)
        _thread.interrupt_main()  # KeyboardInterrupt in the main thread, as Ctrl-C gives

    threading.Thread(target=ctrl_c_once_three_run, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with Pool(3, tmp_path, grace=5.0) as pool:
            for _ in pool.run(items, lambda item, trace: run_item(backend, item, CONFIG, "cascade", "fake", tmp_path,
                                                                  trace)):
                pytest.fail(f"no item finishes in time, but one did: {_!r:.600}")
    assert time.monotonic() - started < 15  # far less than one item takes: the stop did not wait for them
    traces = list(tmp_path.glob("*.jsonl"))
    assert len(traces) == 3  # nothing started after the stop
    assert [finishes(t) for t in traces] == [["interrupted"]] * 3
    time.sleep(0.1)
    assert [finishes(t) for t in traces] == [["interrupted"]] * 3  # the workers wrote nothing after
    assert not any(t.name == "ponder-item" for t in threading.enumerate())


def test_a_worker_failure_that_is_not_the_items_own_is_raised_here_and_stops_the_rest(tmp_path):
    backend = FakeBackend(["word " * 2000], cycle=True, delay=0.02)

    def work(item: Item, trace: ItemTrace) -> dict:
        if item.id == "bad":
            time.sleep(0.2)
            raise WriteError("cannot write the trace: disk full")
        return run_item(backend, item, CONFIG, "cascade", "fake", tmp_path, trace)

    items = [Item("a", "q", 1), Item("bad", "q", 2), Item("c", "q", 3)]
    with pytest.raises(WriteError, match="disk full"):
        with Pool(3, tmp_path, grace=5.0) as pool:
            list(pool.run(items, work))
    assert sorted(finishes(t) for t in tmp_path.glob("*.jsonl")) == [["interrupted"], ["interrupted"]]


def test_an_item_trace_ends_once_and_a_finished_run_stays_finished(tmp_path):
    trace = ItemTrace(tmp_path)
    trace.add(RunStarted(trace.run_id, question="q", strategy="chain", model="m"))
    trace.end("interrupted")
    trace.end("error", "late")
    with pytest.raises(Stopped):
        trace.add(RunFinished(trace.run_id, status="ok"))
    assert finishes(trace.path) == ["interrupted"]
    done = ItemTrace(tmp_path)
    done.add(RunStarted(done.run_id, question="q", strategy="chain", model="m"))
    done.add(RunFinished(done.run_id, status="ok", answer="1"))
    done.end("interrupted")
    assert finishes(done.path) == ["ok"]
    assert isinstance(Stopped(), KeyboardInterrupt)  # run_item closes a stopped item as on Ctrl-C


def test_held_in_a_worker_thread_holds_nothing_back_and_never_raises_there():
    inside, release, raised = threading.Event(), threading.Event(), []

    def worker() -> None:
        try:
            with interrupts.held():
                inside.set()
                release.wait(5)
        except BaseException as exc:  # pragma: no cover - what the rule forbids
            raised.append(exc)

    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupts.install()
    thread = threading.Thread(target=worker)
    try:
        thread.start()
        inside.wait(5)
        with pytest.raises(interrupts.Terminated):  # raised here at once, not held for the worker
            signal.raise_signal(signal.SIGTERM)
            time.sleep(1)
    finally:
        release.set()
        thread.join(5)
        for signum, handler in old.items():
            signal.signal(signum, handler)
    assert raised == [] and interrupts._state["depth"] == 0


# -- the command line against a stub server ----------------------------------------------


class CountingStub(Stub):
    """The stub server, answering completions slowly and counting the items (the `[item ID]` of
    their questions) it serves at once: an item may have requests of its own side by side."""

    def __init__(self, pause: float = 0.05) -> None:
        super().__init__()
        self.pause = pause
        self.lock = threading.Lock()
        self.requests_of: dict[str, int] = {}
        self.most = 0
        self.routes["POST /v1/completions"] = self._slow

    @property
    def serving(self) -> int:
        """Items with a request being served now."""
        with self.lock:
            return sum(1 for n in self.requests_of.values() if n)

    def _slow(self, handler, body: dict) -> None:
        item = re.search(r"\[item (\w+)\]", body["prompt"]).group(1)
        with self.lock:
            self.requests_of[item] = self.requests_of.get(item, 0) + 1
            self.most = max(self.most, sum(1 for n in self.requests_of.values() if n))
        try:
            time.sleep(self.pause)
            completion(body)(handler, body)
        finally:
            with self.lock:
                self.requests_of[item] -= 1


@pytest.fixture
def counting():
    with CountingStub.running() as server:
        yield server


def questions(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is 17 * 23? [item q{i}]"}) + "\n"
                            for i in range(n)))
    return path


def test_batch_keeps_k_items_in_flight_against_a_server_each_id_once(counting, tmp_path):
    out, traces = tmp_path / "out.jsonl", tmp_path / "t"
    done = ponder("batch", str(questions(tmp_path, 7)), "-o", str(out), "--base-url", counting.url,
                  "--strategy", "cascade", "--concurrency", "3", "--trace-dir", str(traces))
    assert done.returncode == 0, done.stderr
    records = lines(out)
    assert sorted(r["id"] for r in records) == [f"q{i}" for i in range(7)]
    assert all(r["status"] == "ok" and r["answer"] == "391" for r in records)
    assert counting.most == 3  # three items' requests overlapped, never a fourth
    paths = {r["trace"] for r in records}
    assert len(paths) == 7 and {str(p) for p in traces.iterdir()} == paths
    assert all(finishes(Path(p)) == ["ok"] for p in paths)


def test_one_at_a_time_by_default(counting, tmp_path):
    done = ponder("batch", str(questions(tmp_path, 2)), "--base-url", counting.url, "--strategy", "cascade",
                  "--no-trace")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2 and counting.most == 1


def test_concurrency_with_an_in_process_model_is_a_usage_error_before_loading(tmp_path):
    out = tmp_path / "out.jsonl"
    done = ponder("batch", str(questions(tmp_path, 2)), "-o", str(out), "-m", "default", "--concurrency", "2")
    assert done.returncode == 2
    assert done.stderr.decode().count("\n") == 1 and b"--concurrency 2 needs a server (--base-url)" in done.stderr
    assert not out.exists()


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_closes_the_items_in_flight_as_interrupted_and_resume_redoes_them(counting, tmp_path, sig, code):
    counting.pause = 60.0  # a server that says nothing: the stop must not wait for it
    source, out, traces = questions(tmp_path, 5), tmp_path / "out.jsonl", tmp_path / "t"
    args = ["batch", str(source), "-o", str(out), "--base-url", counting.url, "--strategy", "cascade",
            "--concurrency", "3", "--trace-dir", str(traces), "--code-timeout", "1"]
    proc = subprocess.Popen([*PONDER, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline and counting.serving < 3:
        time.sleep(0.05)
    sent = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert time.monotonic() - sent < 20  # long before the server answers
    assert b"rerun with --resume" in err
    assert out.read_text() == ""  # nothing finished, nothing written
    assert sorted(finishes(t) for t in traces.iterdir()) == [["interrupted"]] * 3
    counting.pause = 0.0
    done = ponder("batch", str(source), "-o", str(out), "--resume", "--base-url", counting.url, "--strategy", "cascade",
                  "--concurrency", "3", "--no-trace")
    assert done.returncode == 0, done.stderr
    assert sorted(r["id"] for r in lines(out)) == [f"q{i}" for i in range(5)]


def test_eval_shares_the_pool(counting, tmp_path):
    counting.pause = 0.0  # each run makes many requests: the four runs (2 questions x 2 strategies) overlap anyway
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is 17 * 23? [item {i}]", "answer": "391"}) + "\n"
                            for i in range(2)))
    url = counting.url.replace("http://", "http://user:s3cr3tpass@")
    done = ponder("eval", str(data), "--out-dir", str(tmp_path / "ev"), "--base-url", url,
                  "--strategy", "cascade,vote", "--samples", "2", "--concurrency", "4", "--no-trace")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert "s3cr3tpass" not in json.dumps(report) and "--base-url http://127.0.0.1:" in report["command"]
    assert {name: s["accuracy"] for name, s in report["strategies"].items()} == {"cascade": 1.0, "vote": 1.0}
    for name in ("cascade", "vote"):
        assert sorted(r["id"] for r in lines(tmp_path / "ev" / f"{name}.jsonl")) == ["1", "2"]
    assert counting.most == 2  # the two questions, each under both strategies at once


def test_a_stop_never_waits_for_a_worker_that_waits_on_a_silent_server(counting, tmp_path):
    counting.pause = 60.0
    source, out = questions(tmp_path, 3), tmp_path / "out.jsonl"
    args = ["batch", str(source), "-o", str(out), "--base-url", counting.url, "--strategy", "cascade",
            "--concurrency", "3", "--no-trace", "--code-timeout", "30"]  # a grace of 31 s for a sandbox check
    proc = subprocess.Popen([*PONDER, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 30
    while time.time() < deadline and counting.serving < 3:
        time.sleep(0.05)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 5  # no check is running: nothing to wait for
