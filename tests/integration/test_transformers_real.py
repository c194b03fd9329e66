"""`ponder ask --backend transformers` end to end, as a process, on the real small model
(Qwen2.5-Coder-0.5B-Instruct: its GGUF dequantized by transformers, run by torch on the CPU),
and the same greedy question through llama.cpp: the same answer, events of the same shape.
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
ASK = ("ask", "-m", "small", "--no-review", "--max-tokens", "400", "--events")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each backend's finished `ponder ask` of the same greedy question, and its events."""
    found = {}
    for backend in ("transformers", "llama"):
        traces = tmp_path_factory.mktemp(backend)
        done = ponder(*ASK, "--backend", backend, "--trace-dir", str(traces), stdin=QUESTION, timeout=1800)
        events = [json.loads(line) for line in done.stdout.decode().splitlines()] if done.returncode == 0 else []
        found[backend] = (done, events)
    return found


def shape(events):
    """What a run did, less the text: each event's kind and factor, text deltas left out."""
    return [(e["type"], e.get("factor")) for e in events if e["type"] != "text_delta"]


def test_transformers_backend_answers_through_ponder_ask(runs):
    done, events = runs["transformers"]
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


def test_same_greedy_question_has_the_same_shape_on_llama_cpp(runs):
    (_, by_torch), (llama, by_llama) = runs["transformers"], runs["llama"]
    assert llama.returncode == 0, llama.stderr.decode()[-2000:]
    assert by_llama[-1]["answer"] == by_torch[-1]["answer"] == "5"
    assert shape(by_torch) == shape(by_llama)


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
