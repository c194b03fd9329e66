"""`ponder ask --backend transformers` end to end, as a process, on the real small model
(Qwen2.5-Coder-0.5B-Instruct: its GGUF dequantized by transformers, run by torch on the CPU),
and the same greedy question through llama.cpp in process and through llama-cpp-python's
server (`--base-url`): the same answer, events of the same shape on all three backends. The
converted model also serves as a (untrained) process reward model for `--scorer prm:PATH`.
Then the backend itself on that model: a prompt that extends the last evaluates only its new
tokens, the review's grammar, the factor choice.

Kept short (no review, one question, each backend run once for the whole module, few tokens).
Skips where torch is not installed (the `torch` extra; the `test` extra has it)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from ponder.llm.backend import Completion, Delta, Sampling
from tests.cli_helpers import ponder

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ("torch", "transformers", "gguf", "accelerate")),
    reason="the transformers backend needs the torch extra")

QUESTION = "What is 2 + 3?"
ASK = ("ask", "--strategy", "chain", "--no-review", "--max-tokens", "400", "--events")  # one chain: a fixed order of events


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each backend's finished `ponder ask` of the same greedy question, and its events."""
    from ponder.llm.registry import resolve_model
    from tests.integration.test_server_real import start_server

    found = {}
    for backend in ("transformers", "llama", "server"):
        traces = tmp_path_factory.mktemp(backend)
        server = start_server(resolve_model("small"), traces / "server.log") if backend == "server" else None
        chosen = ("--base-url", server.url) if server else ("-m", "small", "--backend", backend)
        try:
            done = ponder(*ASK, *chosen, "--trace-dir", str(traces), stdin=QUESTION, timeout=1800)
        finally:
            if server:
                server.stop()
        events = [json.loads(line) for line in done.stdout.decode().splitlines()] if done.returncode == 0 else []
        found[backend] = (done, events, next(traces.glob("*.jsonl"), None))
    return found


def shape(events):
    """What a run did, less the text: each event's kind and factor, text deltas left out."""
    return [(e["type"], e.get("factor")) for e in events if e["type"] != "text_delta"]


def test_transformers_backend_answers_through_ponder_ask(runs):
    done, events, _ = runs["transformers"]
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert b"Traceback" not in done.stderr
    finished = events[-1]
    assert finished["type"] == "run_finished" and finished["answer"] == "5"
    assert events[0]["model"].endswith(".gguf")
    usage = finished["usage"]
    # every context (each side of a strategy, each step) evaluates at most its own transcript
    assert usage["prompt_tokens_evaluated"] + usage["completion_tokens"] <= usage["transcript_tokens_total"] + usage["steps"]
    assert 0.0 < usage["mean_confidence"] <= 1.0
    from ponder.llm.registry import resolve_model
    from ponder.llm.transformers_backend import STAMP, conversion_dir

    assert (conversion_dir(resolve_model("small"), "float32") / STAMP).is_file()


@pytest.mark.parametrize("other", ["llama", "server"])
def test_same_greedy_question_has_the_same_shape_on_llama_cpp_and_its_server(runs, other):
    (_, by_torch, _), (done, by_other, _) = runs["transformers"], runs[other]
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert by_other[-1]["answer"] == by_torch[-1]["answer"] == "5"
    assert shape(by_torch) == shape(by_other)


@pytest.mark.parametrize("backend", ["transformers", "llama", "server"])
def test_the_viewer_opens_the_trace_of_every_backend(runs, backend):
    from tests.viewer.helpers import pilot_test, screen_text, tree, viewer

    trace = runs[backend][2]
    assert trace is not None, runs[backend][0].stderr.decode()[-2000:]

    @pilot_test
    async def opened():
        app = viewer(trace)
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.press("e")
            await pilot.pause()
            text = screen_text(app)
            assert "hypothesize" in text and "answer" in text and "5" in text
            assert len(tree(app).root.children) >= 1

    opened()


def test_a_converted_model_scores_steps_as_a_reward_model(tmp_path, runs):
    """The mechanics of `--scorer prm:PATH` on a real transformers directory (the small model
    in chat format: its rewards mean nothing, it was never trained to judge steps)."""
    from ponder.llm.registry import resolve_model
    from ponder.llm.transformers_backend import conversion_dir

    directory = conversion_dir(resolve_model("small"), "float32")
    done = ponder("ask", "-m", "small", "--strategy", "best-of-n", "--samples", "2", "--max-tokens", "300",
                  "--scorer", f"verifier,prm:{directory}", "--events", "--trace-dir", str(tmp_path), stdin=QUESTION,
                  timeout=1800)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    events = [json.loads(line) for line in done.stdout.decode().splitlines()]
    scored = [e for e in events if e["type"] == "candidate_scored"]
    assert len(scored) == 2 and all(0.0 < e["scores"]["prm"] < 1.0 for e in scored)
    assert events[-1]["type"] == "run_finished" and events[-1]["answer"]


@pytest.fixture(scope="module")
def small():
    """The small model loaded by the transformers backend, in this process."""
    from ponder.llm.llama import LoadOptions
    from ponder.llm.loader import load_backend

    return load_backend("small", LoadOptions(n_ctx=2048, sequences=2, backend="transformers"))


def complete(backend, prompt, **sampling):
    """A stream's Completion, its deltas checked against its text."""
    *deltas, done = backend.stream(prompt, Sampling(**sampling))
    assert isinstance(done, Completion) and all(isinstance(d, Delta) for d in deltas)
    assert "".join(d.text for d in deltas) == done.text
    return done


def test_an_extended_prompt_evaluates_only_its_new_tokens_and_writes_what_a_fresh_one_would(small):
    prompt = small.chat_prompt([{"role": "user", "content": "Say: the cat sat on the mat."}])
    first = complete(small, prompt, max_tokens=12)
    extended = prompt + first.text + "\nAnd then"
    second = complete(small, extended, max_tokens=6)
    assert second.prompt_tokens_evaluated <= small.count_tokens("\nAnd then") + 2
    small.forget()
    fresh = complete(small, extended, max_tokens=6)
    assert fresh.prompt_tokens_evaluated == fresh.prompt_tokens
    # the same text; the token counts may differ, as the cached prompt keeps the tokens the model wrote
    assert fresh.text == second.text


def test_the_review_grammar_and_the_factor_choice_work_without_a_grammar_engine(small):
    prompt = small.chat_prompt([{"role": "user", "content": "Is 2 + 3 = 5? Reply ACCEPT or REVISE."}])
    verdict = complete(small, prompt, max_tokens=4, grammar='root ::= "ACCEPT" | "REVISE"')
    assert verdict.text in ("ACCEPT", "REVISE") and small.grammar_method == "choices"
    weights = small.choose(prompt + "Next step: ", ["<verify>", "<answer>", "<hypothesize>"])
    assert sum(weights) == pytest.approx(1.0) and small.choose_method == "logits"
    assert len(set(weights)) == 3  # options sharing the first token "<" are told apart
