import sys
import threading

import pytest

from ponder.llm.backend import Completion, Delta, Sampling
from ponder.llm.fake import FakeBackend, FakeCall, queue


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
    from ponder.errors import ModelError

    with pytest.raises(ModelError, match="'review'"):
        run(backend, "p", purpose="review")


def test_stream_many_interleaves_requests_and_charges_a_shared_prompt_once():
    from ponder.llm.backend import Request, SeqDelta, SeqDone, sample_n, stream_many

    backend = FakeBackend(["a b c", "x y"])
    items = list(sample_n(backend, "the same prompt ", [Sampling(seed=1), Sampling(seed=2)]))
    order = [i.index for i in items if isinstance(i, SeqDelta)]
    assert order[:4] == [0, 1, 0, 1]  # one token of each per step
    done = {i.index: i.completion for i in items if isinstance(i, SeqDone)}
    assert done[0].text == "a b c" and done[1].text == "x y"
    assert done[0].prompt_tokens_evaluated == done[0].prompt_tokens and done[1].prompt_tokens_evaluated == 0
    assert backend.batches == [2] and [c.sampling.seed for c in backend.calls] == [1, 2]
    more = list(stream_many(backend, [Request("the same prompt " + "a b c" + " more", Sampling())]))
    assert more[-1].completion.prompt_tokens_evaluated == 2  # " more" after what sequence 0 holds


def test_a_backend_without_stream_many_answers_a_wave_in_turn():
    from ponder.llm.backend import Request, SeqDone, stream_many

    class Plain:
        name = "plain"

        def __init__(self):
            self.inner = FakeBackend(["one", "two"])

        def stream(self, prompt, sampling):
            return self.inner.stream(prompt, sampling)

    items = list(stream_many(Plain(), [Request("p", Sampling()), Request("q", Sampling())]))
    assert [(i.index, i.completion.text) for i in items if isinstance(i, SeqDone)] == [(0, "one"), (1, "two")]


def test_a_cycled_script_is_never_empty_when_threads_ask_at_once():
    answer = queue(["word"], cycle=True)  # batch --concurrency: items ask one fake from several threads
    call = FakeCall("q", Sampling(max_tokens=4))
    seen: list[str] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a gap would show
    try:
        workers = [threading.Thread(target=lambda: seen.extend(answer(call) for _ in range(3000))) for _ in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert len(seen) == 18000 and set(seen) == {"word"}


def test_a_scripts_delay_must_be_seconds_from_0_to_60(tmp_path):
    """NaN raised ValueError and 1e400 OverflowError from time.sleep, mid-run."""
    import pytest

    from ponder.errors import ModelError
    from ponder.llm.loader import MAX_FAKE_DELAY, _fake

    for delay in ("NaN", "Infinity", "1e400", "1" + "0" * 400, "-1", "true", "61"):
        script = tmp_path / "s.json"
        script.write_text('{"outputs": ["<answer>9</answer>"], "delay": ' + delay + "}")
        with pytest.raises(ModelError, match=f"delay must be a number of seconds from 0 to {MAX_FAKE_DELAY}"):
            _fake(f"fake:{script}")


@pytest.mark.parametrize("url", ["ftp://x", "http://example..com/v1", "http://xn--/v1", f"http://{'a' * 64}.com/v1"])
def test_an_openai_base_url_for_other_tools_that_is_no_url_is_passed_over(tmp_path, url):
    from tests.cli_helpers import ponder

    done = ponder("ask", "-m", "fake", "--no-trace", "What is 17 * 23?", env={"OPENAI_BASE_URL": url})
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().count("$OPENAI_BASE_URL is not an http:// or https:// URL") == 1
    bad = ponder("ask", "-m", "fake", "--no-trace", "--base-url", url, "What is 17 * 23?")
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr
    assert bad.stderr.decode().count("\n") == 1 and "must be an http:// or https:// URL" in bad.stderr.decode()
