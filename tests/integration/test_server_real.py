"""`ponder` against a real OpenAI-compatible server: llama-cpp-python's own `llama_cpp.server`
(the `server` extra, in the `test` extra) serving the default GGUF on 127.0.0.1 at a free
port, started and stopped by a fixture. Fault cases against a stub are in
tests/unit/test_openai_http.py; these check that the real thing answers, votes, chooses and
fails cleanly when the server dies mid-run."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from ponder.llm.backend import Completion, Delta, Sampling
from ponder.llm.openai_http import HttpBackend
from tests.cli_helpers import PONDER, ponder

START_SECONDS = 180  # loading the model into a fresh server


@dataclass
class Server:
    """A running `llama_cpp.server`."""

    url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: Path, log: Path) -> Server:
    """Start `python -m llama_cpp.server` on the model and wait until it lists it."""
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "4096",
               # by default this server cuts a streaming request off when the next arrives: the
               # cascade's two routes (and every parallel sample) are concurrent requests
               "--interrupt_requests", "False"]
    out = log.open("wb")
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}/v1", process, log)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{server.url}/models", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"llama_cpp.server did not answer within {START_SECONDS} s")


@pytest.fixture(scope="module")
def server(default_model_path, tmp_path_factory) -> Iterator[Server]:
    """One server for the module's tests that leave it running."""
    running = start_server(default_model_path, tmp_path_factory.mktemp("server") / "server.log")
    yield running
    running.stop()


def test_ask_answers_through_the_server_with_few_tokens(server, tmp_path):
    done = ponder("ask", "--base-url", server.url, "--json", "--trace-dir", str(tmp_path), "What is 17 * 23?")
    assert done.returncode == 0, done.stderr.decode()
    run = json.loads(done.stdout)
    assert run["answer"] == "391"
    assert run["usage"]["completion_tokens"] <= 1500
    assert run["usage"]["mean_confidence"] is not None  # the server's logprobs, not a made-up 1.0
    trace = [json.loads(line) for line in open(run["trace"])]
    assert trace[0]["model"] == str(server_model(server))
    assert trace[-1]["type"] == "run_finished" and trace[-1]["status"] == "ok"


def test_vote_with_two_samples_works(server, tmp_path):
    done = ponder("ask", "--base-url", server.url, "--strategy", "vote", "-n", "2", "--json",
                  "--trace-dir", str(tmp_path), "What is 17 * 23?")
    assert done.returncode == 0, done.stderr.decode()
    run = json.loads(done.stdout)
    assert run["answer"]
    assert run["strategy"] == "vote"


def test_the_backend_streams_chooses_and_counts_like_the_server(server):
    backend = HttpBackend(server.url)
    assert backend.flavour == "llama-cpp-python"
    prompt = backend.chat_prompt([{"role": "user", "content": "Say OK."}])
    items = list(backend.stream(prompt, Sampling(max_tokens=8, stop=("\n",))))
    done = items[-1]
    assert isinstance(done, Completion) and all(isinstance(i, Delta) for i in items[:-1])
    assert done.text == "".join(i.text for i in items[:-1]) and "\n" not in done.text
    assert done.confidences and all(0 < c <= 1 for c in done.confidences)
    assert done.prompt_tokens == backend.count_tokens(prompt) > 5
    verdict = list(backend.stream(prompt, Sampling(max_tokens=4, grammar='root ::= "ACCEPT" | "REVISE"')))[-1]
    assert verdict.text in ("ACCEPT", "REVISE")
    weights = backend.choose(prompt, ["<verify>", "<answer>"])
    assert backend.choose_method == "guided" and sorted(weights) == [0.0, 1.0]


def test_a_server_killed_mid_run_gives_one_line_exit_1_and_an_error_trace(default_model_path, tmp_path):
    doomed = start_server(default_model_path, tmp_path / "doomed.log")
    traces = tmp_path / "traces"
    try:
        run = subprocess.Popen([*PONDER, "ask", "--base-url", doomed.url, "--trace-dir", str(traces), "What is 17 * 23?"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _generating(traces):
            time.sleep(0.1)
        doomed.process.kill()
        out, err = run.communicate(timeout=120)
    finally:
        doomed.stop()
    assert run.returncode == 1, err.decode()
    lines = err.decode().strip().splitlines()
    errors = [line for line in lines if line.startswith("ponder: error")]
    assert len(lines) == 2 and "on the server" in lines[0], lines  # the note naming the server, then the error
    assert len(errors) == 1 and "server" in errors[0] and "Traceback" not in err.decode(), lines
    (trace,) = traces.glob("*.jsonl")
    last = json.loads(trace.read_text().splitlines()[-1])
    assert last["type"] == "run_finished" and last["status"] == "error" and last["error"]


def _generating(traces: Path) -> bool:
    """True once a trace shows streamed text (the run is mid-step)."""
    return any('"text_delta"' in path.read_text(errors="replace") for path in traces.glob("*.jsonl"))


def server_model(server: Server) -> str:
    return httpx.get(f"{server.url}/models", timeout=10).json()["data"][0]["id"]
