"""Parallel sampling on the real default model: n sequences in one context, one decode per step."""

from __future__ import annotations

import llama_cpp
import pytest

from ponder.agent.settings import ChainConfig, RunConfig
from ponder.agent.strategies import STRATEGIES
from ponder.errors import PonderError
from ponder.llm.backend import Delta, Request, Sampling, SeqDelta, SeqDone, sample_n, stream_many
from ponder.trace.events import RoundStarted

STOPS = (".", ",", "!", " the")


def evaluated(backend) -> int:
    """Tokens llama.cpp has evaluated in this context so far (its own counters)."""
    data = llama_cpp.llama_perf_context(backend.llm.ctx)
    return int(data.n_p_eval + data.n_eval)


def collect(items):
    texts, done = {}, {}
    for item in items:
        if isinstance(item, SeqDelta):
            texts[item.index] = texts.get(item.index, "") + item.delta.text
        else:
            assert isinstance(item, SeqDone)
            done[item.index] = item.completion
    for index, completion in done.items():
        assert texts.get(index, "") == completion.text  # the deltas add up to the text
    return done


def story(llama):
    return llama.chat_prompt([{"role": "user", "content": "Tell me a short story about a cat."}])


def test_four_samples_are_distinct_repeatable_and_share_one_prompt(llama):
    prompt = llama.chat_prompt([{"role": "user", "content": "Invent a name for a new planet and describe it."}])
    samplings = [Sampling(temperature=0.8, seed=11 + i, max_tokens=24) for i in range(4)]
    llama.forget()
    before = evaluated(llama)
    first = collect(sample_n(llama, prompt, samplings))
    spent = evaluated(llama) - before
    assert sorted(first) == [0, 1, 2, 3] and len({c.text for c in first.values()}) == 4
    decoded = sum(c.completion_tokens for c in first.values())
    assert spent - decoded < llama.count_tokens(prompt)  # the prompt was evaluated once, not four times
    assert [c.prompt_tokens_evaluated for c in first.values()][1:] == [1, 1, 1]
    llama.forget()
    again = collect(sample_n(llama, prompt, samplings))
    assert {i: c.text for i, c in again.items()} == {i: c.text for i, c in first.items()}


def test_each_sequence_stops_at_its_own_stop_string(llama):
    prompt = llama.chat_prompt([{"role": "user", "content": "Describe the sea in three sentences."}])
    requests = [Request(prompt, Sampling(temperature=0.5, seed=i, max_tokens=60, stop=(stop,)))
                for i, stop in enumerate(STOPS)]
    done = collect(stream_many(llama, requests))
    for index, stop in enumerate(STOPS):
        completion = done[index]
        assert stop not in completion.text
        assert completion.stop_reason in ("stop", "length", "eos")
    assert sum(c.stop_reason == "stop" for c in done.values()) >= 3


def test_a_fork_evaluates_only_its_new_tokens_and_single_streams_still_work(llama):
    prompt = story(llama)
    base = collect(sample_n(llama, prompt, [Sampling(temperature=0.8, seed=s, max_tokens=12) for s in (1, 2)]))
    fork = prompt + base[1].text
    forks = collect(stream_many(llama, [Request(fork, Sampling(temperature=0.8, seed=s, max_tokens=6))
                                        for s in (3, 4)]))
    assert all(c.prompt_tokens_evaluated <= 2 for c in forks.values())
    single = list(llama.stream(prompt, Sampling(max_tokens=6)))
    assert single[-1].completion_tokens == 6 and all(isinstance(i, Delta) for i in single[:-1])


def test_a_wave_that_cannot_fit_the_context_is_one_clear_error(llama):
    with pytest.raises(PonderError, match="raise --ctx"):
        list(sample_n(llama, story(llama), [Sampling(max_tokens=2100) for _ in range(4)]))
    assert collect(sample_n(llama, story(llama), [Sampling(max_tokens=4)] * 2))  # and the backend still works


def test_vote_in_waves_on_the_real_model(llama):
    config = RunConfig(chain=ChainConfig(max_tokens=200, seed=1), samples=2, parallel=2)
    events = list(STRATEGIES["vote"](llama, "What is 9 + 10?", config, run_id="it", model="default"))
    assert len([e for e in events if isinstance(e, RoundStarted)]) == 2 and events[-1].answer


def test_requests_beyond_the_slots_wait_and_start_as_sequences_end(llama):
    prompt = story(llama)
    requests = [Request(prompt, Sampling(temperature=0.8, seed=s, max_tokens=3 + s)) for s in range(6)]
    done = collect(stream_many(llama, requests))  # the fixture's context has 4 sequence slots
    assert sorted(done) == list(range(6))
    assert [done[i].completion_tokens for i in range(6)] == [3 + s for s in range(6)]
