"""The llama.cpp backend on the real default model."""

from __future__ import annotations

from ponder.llm.backend import Completion, Delta, Sampling


def complete(backend, prompt, **kw):
    items = list(backend.stream(prompt, Sampling(**kw)))
    assert isinstance(items[-1], Completion)
    streamed = "".join(i.text for i in items if isinstance(i, Delta))
    assert streamed == items[-1].text
    return items[-1]


def prompt_for(backend, text):
    return backend.chat_prompt([{"role": "user", "content": text}])


def test_chat_template_comes_from_the_gguf(llama):
    prompt = prompt_for(llama, "hi")
    assert "<|im_start|>user\nhi<|im_end|>" in prompt and prompt.endswith("<|im_start|>assistant\n")


def test_stop_sequence_ends_the_text_before_it(llama):
    done = complete(llama, prompt_for(llama, "Count from 1 to 10, separated by commas."), max_tokens=60, stop=("5",))
    assert done.stop_reason == "stop"
    assert "5" not in done.text and "4" in done.text


def test_greedy_is_deterministic_and_confidence_is_a_probability(llama):
    prompt = prompt_for(llama, "Name a primary colour. One word.")
    first = complete(llama, prompt, max_tokens=8)
    second = complete(llama, prompt, max_tokens=8)
    assert first.text == second.text
    assert first.confidences and all(0.0 < c <= 1.0 for c in first.confidences)


def test_seeded_sampling_repeats(llama):
    # Same seed and same cache state give the same text. (A cached and an uncached evaluation
    # of one prompt round differently, so the warm-up call puts both runs on the cached path.)
    prompt = prompt_for(llama, "Write a random adjective.")
    complete(llama, prompt, max_tokens=1)
    a = complete(llama, prompt, temperature=1.0, seed=7, max_tokens=12)
    b = complete(llama, prompt, temperature=1.0, seed=7, max_tokens=12)
    assert a.text == b.text


def test_grammar_restricts_the_output(llama):
    grammar = 'root ::= "restate" | "verify" | "answer"'
    done = complete(llama, prompt_for(llama, "Which step checks the work?"), grammar=grammar, max_tokens=8)
    assert done.text in ("restate", "verify", "answer")


def test_max_tokens_is_respected(llama):
    done = complete(llama, prompt_for(llama, "Tell me a long story."), max_tokens=5)
    assert done.completion_tokens == 5 and done.stop_reason == "length"


def test_appended_prompt_evaluates_only_the_new_tokens(llama):
    import llama_cpp

    prompt = prompt_for(llama, "Say: the cat sat on the mat.")
    first = complete(llama, prompt, max_tokens=12)
    before = llama_cpp.llama_perf_context(llama.llm.ctx)
    extended = prompt + first.text + "\nAnd then"
    second = complete(llama, extended, max_tokens=4)
    after = llama_cpp.llama_perf_context(llama.llm.ctx)
    new_tokens = llama.count_tokens("\nAnd then")
    assert second.prompt_tokens_evaluated <= new_tokens + 2
    # llama.cpp's own counters agree: it evaluated our reported prompt tokens plus the
    # generated tokens it had to feed back (all but the last).
    evaluated = (after.n_p_eval + after.n_eval) - (before.n_p_eval + before.n_eval)
    assert evaluated == second.prompt_tokens_evaluated + second.completion_tokens - 1


def test_choose_scores_whole_options_and_leaves_sampling_unchanged(llama):
    prompt = prompt_for(llama, "Reply with one XML tag: <verify> or <answer>.")
    before = complete(llama, prompt, max_tokens=8)
    options = ["<verify>", "<answer>", "<hypothesize>"]  # the first two share their first token "<"
    probabilities = llama.choose(prompt, options)
    assert abs(sum(probabilities) - 1.0) < 1e-6 and all(0.0 < p < 1.0 for p in probabilities)
    swapped = llama.choose(prompt, list(reversed(options)))
    assert [round(p, 5) for p in swapped] == [round(p, 5) for p in reversed(probabilities)]
    after = complete(llama, prompt, max_tokens=8)
    assert after.text == before.text
