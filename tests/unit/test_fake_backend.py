from ponder.llm.backend import Completion, Delta, Sampling
from ponder.llm.fake import FakeBackend


def run(backend, prompt, **kw):
    items = list(backend.stream(prompt, Sampling(**kw)))
    assert isinstance(items[-1], Completion)
    assert all(isinstance(i, Delta) for i in items[:-1])
    return items[-1], "".join(i.text for i in items[:-1])


def test_stop_sequence_cuts_text_and_deltas_match():
    backend = FakeBackend(["hello world</a> tail"])
    done, streamed = run(backend, "p", stop=("</a>",))
    assert done.text == streamed == "hello world"
    assert done.stop_reason == "stop"


def test_max_tokens_limits_output():
    done, _ = run(FakeBackend(["one two three four"]), "p", max_tokens=3)
    assert done.completion_tokens == 3
    assert done.stop_reason == "length"


def test_prefix_cache_counts_only_new_prompt_tokens():
    backend = FakeBackend(["a b", "c"])
    first, _ = run(backend, "x y ")
    second, _ = run(backend, "x y " + "a b" + " more")
    assert first.prompt_tokens_evaluated == first.prompt_tokens
    assert second.prompt_tokens_evaluated == 2  # " " and "more"


def test_calls_are_recorded():
    backend = FakeBackend(["a"])
    run(backend, "prompt", temperature=0.5)
    assert backend.calls[0].prompt == "prompt"
    assert backend.calls[0].sampling.temperature == 0.5


def test_a_handler_answers_by_what_is_asked_and_calls_are_found_by_purpose():
    from ponder.llm.fake import by_purpose

    backend = FakeBackend(handler=by_purpose({"verify": ["first", "then"], "answer": "9"}))
    assert run(backend, "p", purpose="verify")[1] == "first"
    assert run(backend, "p", purpose="answer")[1] == "9"
    assert run(backend, "p", purpose="verify")[1] == "then"
    assert run(backend, "p", purpose="verify")[1] == "then"  # the last one repeats
    assert [c.prompt for c in backend.asked("answer")] == ["p"] and len(backend.asked("verify")) == 3


def test_a_purpose_without_a_script_is_an_error_not_a_silent_empty_step():
    import pytest

    from ponder.llm.fake import by_purpose

    backend = FakeBackend(handler=by_purpose({"verify": "x"}))
    with pytest.raises(LookupError, match="'review'"):
        run(backend, "p", purpose="review")
