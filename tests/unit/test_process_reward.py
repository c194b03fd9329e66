"""The process reward model scorer (`--scorer prm:PATH`) on a tiny random model saved to a
directory in both formats: where each step is read, load errors, the scorer, best-of-n and
beam on the fake model, and the flag. Skips where torch is not installed."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from ponder.agent.critics.process_reward import chain_steps
from ponder.agent.critics.scorers import prm_score
from ponder.agent.engine.chain import ChainResult
from ponder.agent.engine.scaffold import Sample
from ponder.errors import ModelError
from ponder.trace.events import CandidateScored, SearchNode, StepFinished
from tests.cli_helpers import fake_script, ponder
from tests.unit import scripts

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None or
                                importlib.util.find_spec("transformers") is None,
                                reason="torch and transformers are not installed (the torch extra)")
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
STEPS = ["Twelve minus three is 9.", "So the answer is 9."]


def save_prm(directory, *, chat: bool, settings: dict | None = None):
    """A tiny random causal LM saved as a reward model directory; return its path as a string."""
    from tests.unit.test_transformers_backend import tiny_model, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    if chat:
        tokenizer.chat_template = CHATML
    tiny_model(tokenizer, seed=3).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    if settings is not None:
        (directory / "ponder-prm.json").write_text(json.dumps(settings))
    return str(directory)


@pytest.fixture(scope="module")
def tagged_dir(tmp_path_factory):
    return save_prm(tmp_path_factory.mktemp("tagged"), chat=False, settings={"step_tag": "@"})


@pytest.fixture(scope="module")
def chat_dir(tmp_path_factory):
    return save_prm(tmp_path_factory.mktemp("chat"), chat=True)


def load(path):
    from ponder.llm.process_reward import process_reward_model

    return process_reward_model(path)


def verdict_after(prm, text, position=-1):
    """P(good) from one plain forward pass over `text`, read at `position`."""
    import torch

    ids = prm.tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        logits = prm.model(input_ids=ids).logits[0].float()
    if position == "tags":
        return [logits[i][[prm.good, prm.bad]].softmax(-1)[0].item()
                for i in (ids[0] == prm.tokenizer.convert_tokens_to_ids("@")).nonzero().flatten().tolist()]
    return logits[position][[prm.good, prm.bad]].softmax(-1)[0].item()


def test_a_tagged_model_reads_each_step_at_its_tag(tagged_dir):
    prm = load(tagged_dir)
    assert prm.shape.format == "tagged"
    rewards = prm.step_rewards("What is 12 - 3?", STEPS)
    expected = verdict_after(prm, f"What is 12 - 3? {STEPS[0]} @\n {STEPS[1]} @\n", "tags")
    assert rewards == [pytest.approx(x, abs=1e-4) for x in expected] and len(rewards) == 2
    assert all(0 < r < 1 for r in rewards) and rewards[0] != rewards[1]
    assert prm.step_rewards("What is 12 - 3?", STEPS[:1]) == rewards[:1]  # a step never reads what follows


def test_a_chat_model_reads_each_step_where_the_assistant_judges_it(chat_dir):
    prm = load(chat_dir)
    assert prm.shape.format == "chat"
    rewards = prm.step_rewards("What is 12 - 3?", STEPS)
    first = f"<|im_start|>user\nWhat is 12 - 3? {STEPS[0]}<|im_end|>\n<|im_start|>assistant\n"
    second = first + f"+<|im_end|>\n<|im_start|>user\n{STEPS[1]}<|im_end|>\n<|im_start|>assistant\n"
    assert rewards == [pytest.approx(verdict_after(prm, first), abs=1e-4),
                       pytest.approx(verdict_after(prm, second), abs=1e-4)]


def test_no_steps_give_no_rewards_and_the_model_is_loaded_once(tagged_dir):
    assert load(tagged_dir).step_rewards("q", ["", "  "]) == []
    assert load(tagged_dir) is load(tagged_dir)


@pytest.mark.parametrize("settings, message", [
    ({"format": "scalar"}, "unknown format 'scalar'"),
    ({"good": "++--"}, "spells '++--' as"),
    ({"format": 1}, "must be an object of strings"),
    ({"format": "chat"}, "format 'chat' needs a tokenizer with a chat template"),
])
def test_a_reward_model_ponder_cannot_read_is_one_error_at_load(tmp_path, settings, message):
    with pytest.raises(ModelError, match=re.escape(message)):
        load(save_prm(tmp_path, chat=False, settings=settings))


def test_a_directory_without_a_model_is_one_error(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        load(str(tmp_path))


def test_the_scorer_is_the_weakest_step_and_one_half_unscored():
    sample = Sample(1, "s1", ChainResult())
    assert prm_score(sample) == 0.5
    sample.step_rewards = (0.9, 0.2, 0.7)
    assert prm_score(sample) == 0.2


def test_the_steps_are_the_chains_own_not_its_judgement():
    def step(factor, text):
        return StepFinished("r", span=factor, factor=factor, text=text, stop_reason="stop", completion_tokens=1,
                            prompt_tokens=1, prompt_tokens_evaluated=1, seconds=0.0)

    events = [step("restate", "a"), step("hypothesize", "b"), step("judge", "yes"), step("review", "ACCEPT")]
    assert chain_steps(events) == ["a", "b"]


def test_best_of_n_scores_each_chain_with_the_reward_model(think, tagged_dir):
    run = think("best-of-n", scripts.PASSING, samples=1, max_corrections=0, scorers=("prm",), prm=tagged_dir)
    rewards = load(tagged_dir).step_rewards(run.events[0].question, [e.text for e in run.of(StepFinished)])
    assert len(rewards) == 5 and [c.scores["prm"] for c in run.of(CandidateScored)] == [min(rewards)]
    assert len(think("best-of-n", scripts.PASSING, samples=3, scorers=("prm",), prm=tagged_dir).of(CandidateScored)) == 3


def test_beam_scores_open_paths_with_the_reward_model(think, tagged_dir):
    run = think("beam", scripts.PASSING, max_corrections=0, scorers=("prm",), prm=tagged_dir, width=1, expansions=2)
    scores = [n.score for n in run.of(SearchNode) if n.depth > 0]
    assert scores and all(0 < s < 1 for s in scores) and len(set(scores)) > 1  # never the unscored 0.5


def test_the_prm_scorer_needs_its_directory():
    from ponder.agent.settings import RunConfig

    assert any("--scorer prm:PATH" in p for p in RunConfig(scorers=("prm",)).problems())


@pytest.mark.parametrize("value", ["prm", "prm:", "prm:/no/such/dir"])
def test_the_flag_without_a_directory_is_a_usage_error(value):
    done = ponder("ask", "-m", "fake", "--strategy", "best-of-n", "--scorer", value, "q")
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode().count("\n") == 1 and "prm:PATH" in done.stderr.decode()


def test_ask_scores_with_a_reward_model_end_to_end(tmp_path, chat_dir):
    spec = fake_script(tmp_path, scripts.PASSING)
    done = ponder("ask", "-m", spec, "--strategy", "best-of-n", "--samples", "2", "--scorer", f"verifier,prm:{chat_dir}",
                  "--events", "--trace-dir", str(tmp_path / "t"), "q")
    assert done.returncode == 0, done.stderr
    scored = [json.loads(line) for line in done.stdout.splitlines() if b'"candidate_scored"' in line]
    assert len(scored) == 2 and all(set(c["scores"]) == {"verifier", "prm"} and 0 < c["scores"]["prm"] < 1
                                    for c in scored)
    started = json.loads(done.stdout.splitlines()[0])
    assert started["params"]["prm"] == chat_dir and started["params"]["scorers"] == ["verifier", "prm"]


def test_a_broken_reward_model_stops_ask_before_the_run(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    done = ponder("ask", "-m", "fake", "--strategy", "best-of-n", "--scorer", f"prm:{tmp_path}",
                  "--trace-dir", str(tmp_path / "t"), "q")
    assert done.returncode == 3 and done.stderr.decode().count("\n") == 1
    assert "process reward model" in done.stderr.decode() and not list(tmp_path.glob("t/*"))  # no trace begun


def test_a_reward_model_for_a_strategy_that_reads_no_scorer_is_a_usage_error(tmp_path):
    done = ponder("ask", "-m", "fake", "--strategy", "cascade", "--scorer", f"prm:{tmp_path}", "q")
    assert done.returncode == 2 and done.stderr.decode().count("\n") == 1
    assert "best-of-n, beam, mcts" in done.stderr.decode()
