"""The transformers backend on a tiny random Qwen2 model built in code (no download, no model
file): the stream rules, stops, seeds, confidence, choose, prefix re-use, the batch, grammars;
and the `--backend` flag. Tests that need torch skip where it is not installed."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from ponder.errors import ModelError, PonderError
from ponder.llm.backend import Completion, Delta, Request, Sampling, SeqDelta, SeqDone, sample_n, stream_many
from ponder.llm.llama import LoadOptions
from ponder.llm.transformers_backend import BYTE_OF_CHAR, EXTRA_HINT, literal_choices, load_transformers
from tests.cli_helpers import ponder

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None or
                                 importlib.util.find_spec("transformers") is None,
                                 reason="torch and transformers are not installed (the torch extra)")
PROMPT = "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"


def tiny_tokenizer():
    """A byte-level BPE tokenizer of printable ASCII and newline (so all it writes is text), two
    merges, and ChatML's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    spelled = {byte: char for char, byte in BYTE_OF_CHAR.items()}
    vocab = {spelled[b]: i for i, b in enumerate([10, *range(32, 127)])}
    vocab.update({"he": len(vocab), "Ġt": len(vocab) + 1})
    model = models.BPE(vocab=vocab, merges=[("h", "e"), ("Ġ", "t")])
    core = Tokenizer(model)
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>",
                                   additional_special_tokens=["<|im_start|>", "<|endoftext|>"])


@pytest.fixture(scope="module")
def parts():
    """A tiny random Qwen2 model and its tokenizer."""
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
        pytest.skip("torch and transformers are not installed (the torch extra)")
    tokenizer = tiny_tokenizer()
    return tiny_model(tokenizer, seed=1), tokenizer  # seed 1: 40 greedy tokens of varied text


def tiny_model(tokenizer, seed):
    """A random two-layer Qwen2 model over `tokenizer`'s vocabulary."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=False)  # untied: greedy text that does not just repeat one token
    return Qwen2ForCausalLM(config).eval()


@pytest.fixture
def backend(parts):
    """A fresh backend (no kept caches) over the shared tiny model."""
    from ponder.llm.transformers_backend import TransformersBackend

    model, tokenizer = parts
    return TransformersBackend(model, tokenizer, "tiny", LoadOptions(n_ctx=512, sequences=4))


def run(backend, prompt=PROMPT, **sampling):
    """A stream's deltas and its Completion."""
    items = list(backend.stream(prompt, Sampling(**sampling)))
    *deltas, done = items
    assert all(isinstance(d, Delta) for d in deltas) and isinstance(done, Completion)
    assert "".join(d.text for d in deltas) == done.text
    return deltas, done


def logits_of(backend, tokens):
    """The next-token logits after `tokens`, from one plain forward pass."""
    import torch

    with torch.no_grad():
        return backend.model(input_ids=torch.tensor([tokens])).logits[0, -1].float()


@needs_torch
def test_stream_ends_with_one_completion_and_counts(backend):
    deltas, done = run(backend, max_tokens=12)
    assert done.stop_reason in ("length", "eos") and done.completion_tokens <= 12
    assert done.prompt_tokens == backend.count_tokens(PROMPT)
    assert done.prompt_tokens_evaluated == done.prompt_tokens
    assert len(done.confidences) == done.completion_tokens
    assert all(0.0 < c <= 1.0 for c in done.confidences)


@needs_torch
def test_confidence_is_the_top_token_probability_and_greedy_takes_it(backend):
    import torch

    _, done = run(backend, max_tokens=3)
    prompt = backend.encode(PROMPT)
    probs = torch.softmax(logits_of(backend, prompt), dim=-1)
    assert done.confidences[0] == pytest.approx(float(probs.max()), abs=1e-5)
    generated = backend.kept[0].tokens[len(prompt):]
    assert generated[0] == int(probs.argmax())


@needs_torch
def test_stop_sequence_is_cut_and_never_in_the_text(backend):
    _, free = run(backend, max_tokens=40)
    assert len(free.text) >= 12, free.text
    stop = free.text[8:11]
    _, stopped = run(backend, max_tokens=40, stop=(stop,))
    assert stopped.stop_reason == "stop"
    assert stopped.text == free.text[: free.text.find(stop)]
    assert stop not in stopped.text


@needs_torch
def test_end_of_turn_ends_the_stream_unwritten(parts):
    from ponder.llm.transformers_backend import TransformersBackend

    tokenizer = parts[1]
    backend = TransformersBackend(tiny_model(tokenizer, seed=0), tokenizer, "tiny")  # seed 0 ends its turn
    _, done = run(backend, max_tokens=40)
    assert done.stop_reason == "eos" and 0 < done.completion_tokens < 40
    assert "<|im_end|>" not in done.text and len(done.text) == done.completion_tokens


@needs_torch
def test_seed_gives_the_same_sample_and_another_seed_another(backend):
    texts = [run(backend, max_tokens=16, temperature=1.0, seed=seed)[1].text for seed in (7, 7, 8)]
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


@needs_torch
def test_unseeded_samples_follow_the_load_seed(parts):
    from ponder.llm.transformers_backend import TransformersBackend

    def two(seed):
        backend = TransformersBackend(*parts, "tiny", LoadOptions(seed=seed))
        return [run(backend, max_tokens=10, temperature=1.0)[1].text for _ in range(2)]

    first = two(3)
    assert first == two(3)
    assert first[0] != first[1]


@needs_torch
def test_a_prompt_extending_the_last_reuses_its_cells_and_answers_the_same(backend):
    _, first = run(backend, max_tokens=10)
    longer = PROMPT + first.text + "<|im_end|>\n<|im_start|>user\nthe"
    _, cached = run(backend, longer, max_tokens=10)
    new = backend.count_tokens("<|im_end|>\n<|im_start|>user\nthe")
    assert cached.prompt_tokens_evaluated <= new + 1 < cached.prompt_tokens
    backend.forget()
    _, fresh = run(backend, longer, max_tokens=10)
    assert fresh.prompt_tokens_evaluated == fresh.prompt_tokens
    assert fresh.text == cached.text


@needs_torch
def test_generated_text_keeps_its_tokens(backend):
    _, first = run(backend, max_tokens=10)
    tokens = backend.tokens_for(PROMPT + first.text)
    assert tokens[: first.prompt_tokens] == backend.tokens_for(PROMPT)[: first.prompt_tokens]
    assert b"".join(backend.piece(t) for t in tokens).decode("utf-8") == PROMPT + first.text


@needs_torch
def test_choose_scores_whole_options_from_the_logits(backend):
    import torch

    options = ["<verify>", "<answer>", "<correct>"]
    weights = backend.choose(PROMPT, options)
    assert sum(weights) == pytest.approx(1.0) and backend.choose_method == "logits"
    prompt = backend.encode(PROMPT)
    scores = []
    for option in options:
        sequence = backend.encode(option)
        with torch.no_grad():
            logits = backend.model(input_ids=torch.tensor([prompt + sequence])).logits[0].float()
        log_probs = torch.log_softmax(logits[len(prompt) - 1:-1], dim=-1)
        scores.append(sum(float(log_probs[i, t]) for i, t in enumerate(sequence)))
    expected = torch.softmax(torch.tensor(scores, dtype=torch.float64), dim=0).tolist()
    assert weights == pytest.approx(expected, abs=1e-4)
    assert weights[0] != pytest.approx(weights[1])  # same first token "<", told apart


@needs_torch
def test_choice_grammar_allows_only_its_words(backend):
    grammar = 'root ::= "ACCEPT" | "REVISE"'
    for seed in range(3):
        _, done = run(backend, max_tokens=8, temperature=1.0, seed=seed, grammar=grammar)
        assert done.text in ("ACCEPT", "REVISE") and done.stop_reason == "eos"
    assert backend.grammar_method == "choices"
    _, free = run(backend, max_tokens=4, grammar="root ::= [a-z]+")
    assert backend.grammar_method == "ignored" and free.completion_tokens >= 1


def test_literal_choices_reads_only_alternations_of_strings():
    assert literal_choices('root ::= "yes" | "no"') == ("yes", "no")
    assert literal_choices('root ::= "a\\"b"') == ('a"b',)
    assert literal_choices("root ::= [a-z]+") is None
    assert literal_choices('root ::= "a" x') is None


@needs_torch
def test_sample_n_evaluates_the_prompt_once_and_each_matches_its_own_stream(backend):
    samplings = [Sampling(max_tokens=8, temperature=1.0, seed=s) for s in (1, 2, 3)] + [Sampling(max_tokens=8)]
    items = list(sample_n(backend, PROMPT, samplings))
    done = {i.index: i.completion for i in items if isinstance(i, SeqDone)}
    texts = {}
    for item in items:
        if isinstance(item, SeqDelta):
            texts[item.index] = texts.get(item.index, "") + item.delta.text
    assert sorted(done) == [0, 1, 2, 3]
    assert all(texts.get(i, "") == done[i].text for i in done)
    prompt_tokens = done[0].prompt_tokens
    assert sorted(d.prompt_tokens_evaluated for d in done.values()) == [1, 1, 1, prompt_tokens]
    backend.forget()
    alone = [run(backend, **vars(s))[1].text for s in samplings]
    assert [done[i].text for i in range(4)] == alone


@needs_torch
def test_requests_of_different_lengths_join_and_wait_as_in_turn(parts):
    from ponder.llm.transformers_backend import TransformersBackend

    backend = TransformersBackend(*parts, "tiny", LoadOptions(n_ctx=512, sequences=2))
    prompts = [PROMPT, "the", PROMPT + "Think.", "hello there"]
    requests = [Request(p, Sampling(max_tokens=6 + i)) for i, p in enumerate(prompts)]
    done = {i.index: i.completion for i in stream_many(backend, requests) if isinstance(i, SeqDone)}
    backend.forget()
    alone = [run(backend, r.prompt, **vars(r.sampling))[1] for r in requests]
    assert [done[i].text for i in range(4)] == [a.text for a in alone]
    assert [done[i].completion_tokens for i in range(4)] == [a.completion_tokens for a in alone]


@needs_torch
def test_a_full_context_is_one_ponder_error(parts):
    from ponder.llm.transformers_backend import TransformersBackend

    backend = TransformersBackend(*parts, "tiny", LoadOptions(n_ctx=256))
    with pytest.raises(PonderError, match="context is full"):
        run(backend, "x" * 300)
    with pytest.raises(PonderError, match="do not fit"):
        list(sample_n(backend, "x" * 200, [Sampling(max_tokens=100)]))
    _, done = run(backend, "x" * 200, max_tokens=100)
    assert done.completion_tokens <= 55


@needs_torch
def test_chat_prompt_uses_the_template_else_chatml(backend):
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert backend.chat_prompt(messages) == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n" \
                                            "<|im_start|>assistant\n"
    backend.tokenizer.chat_template = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}>"
    try:
        assert backend.chat_prompt(messages) == "[system]S[user]U>"
    finally:
        backend.tokenizer.chat_template = None


@needs_torch
def test_a_state_space_model_is_refused_at_load(parts):
    from transformers import MambaConfig, MambaForCausalLM

    from ponder.llm.transformers_backend import TransformersBackend

    tokenizer = parts[1]
    mamba = MambaForCausalLM(MambaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=2,
                                         state_size=4)).eval()
    with pytest.raises(ModelError, match="no plain attention key-value cache"):
        TransformersBackend(mamba, tokenizer, "mamba")


def test_missing_torch_is_one_model_error_naming_the_extra(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(ModelError) as raised:
        load_transformers(str(tmp_path), None, LoadOptions())
    assert str(raised.value).startswith(EXTRA_HINT) and "\n" not in str(raised.value)


def test_a_directory_without_config_is_refused(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        load_transformers(str(tmp_path), None, LoadOptions())


@needs_torch
def test_a_saved_model_directory_loads(parts, tmp_path):
    model, tokenizer = parts
    model.save_pretrained(str(tmp_path))
    tokenizer.save_pretrained(str(tmp_path))
    loaded = load_transformers(str(tmp_path), None, LoadOptions(n_ctx=512))
    assert loaded.name == tmp_path.name and loaded.n_ctx == 512
    _, done = run(loaded, max_tokens=5)
    assert done.completion_tokens >= 1


def test_backend_flag_with_base_url_is_a_usage_error():
    done = ponder("ask", "--backend", "transformers", "--base-url", "http://127.0.0.1:9/v1", "-m", "fake", "q",
                  env={"PONDER_BASE_URL": "", "OPENAI_BASE_URL": ""})
    assert done.returncode == 2
    assert done.stderr.decode().count("\n") == 1 and "--base-url" in done.stderr.decode()


def test_fake_stays_the_fake_and_openai_base_url_is_passed_over():
    done = ponder("ask", "--backend", "transformers", "-m", "fake", "--no-trace", "What is 17 * 23?",
                  env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "PONDER_BASE_URL": ""})
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"391\n"


def test_an_unknown_backend_is_a_usage_error():
    done = ponder("ask", "--backend", "vllm", "-m", "fake", "q")
    assert done.returncode == 2 and b"--backend" in done.stderr


def test_a_directory_without_config_exits_3_in_one_line(tmp_path):
    done = ponder("ask", "--backend", "transformers", "-m", str(tmp_path), "q")
    assert done.returncode == 3
    assert done.stderr.decode().count("\n") == 1 and "config.json" in done.stderr.decode()



@needs_torch
@pytest.mark.parametrize("damage", ["truncated weights", "zero heads", "gguf magic only"])
def test_a_damaged_model_is_one_model_error_not_a_traceback(parts, tmp_path, damage):
    model, tokenizer = parts
    model.save_pretrained(str(tmp_path))
    tokenizer.save_pretrained(str(tmp_path))
    target = str(tmp_path)
    if damage == "truncated weights":
        weights = tmp_path / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "zero heads":
        config = json.loads((tmp_path / "config.json").read_text())
        (tmp_path / "config.json").write_text(json.dumps({**config, "num_attention_heads": 0}))
    else:
        (tmp_path / "m.gguf").write_bytes(b"GGUF")
        target = str(tmp_path / "m.gguf")
    with pytest.raises(ModelError, match="cannot load|not a GGUF|GGUF"):
        load_transformers(target, None, LoadOptions(n_ctx=512))


@needs_torch
def test_a_token_past_the_models_embeddings_is_one_ponder_error(parts):
    import torch

    from ponder.llm.transformers_backend import TransformersBackend

    model, tokenizer = parts
    backend = TransformersBackend(model, tokenizer, "tiny", LoadOptions(n_ctx=512))
    with pytest.raises(PonderError, match="the model failed in torch"):
        backend.run(input_ids=torch.tensor([[len(tokenizer) + 5]]))


def test_a_conversion_of_a_long_file_name_fits_a_directory_name_and_dead_leftovers_are_swept(tmp_path, monkeypatch):
    import subprocess
    import sys

    from ponder.llm import transformers_backend as tb

    monkeypatch.setenv("PONDER_CACHE_DIR", str(tmp_path / "cache"))
    long = tmp_path / ("m" * 240 + ".gguf")
    long.write_bytes(b"GGUF")
    assert len(tb.conversion_dir(long, "float32").name.encode()) < 255
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftovers = tmp_path / "cache" / "transformers"
    (leftovers / f"{tb.CONVERTING}{dead.stdout.strip()}-abc").mkdir(parents=True)
    (leftovers / f"{tb.CONVERTING}{os.getpid()}-def").mkdir()
    tb._sweep_conversions(leftovers)
    assert [p.name for p in leftovers.iterdir()] == [f"{tb.CONVERTING}{os.getpid()}-def"]


@needs_torch
def test_a_conversion_is_pending_for_a_registered_gguf_and_never_for_a_file_that_is_none(tmp_path, monkeypatch):
    from ponder.llm import user_models
    from ponder.llm.transformers_backend import conversion_pending

    monkeypatch.setenv("PONDER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("PONDER_CACHE_DIR", str(tmp_path / "cache"))
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 12)
    user_models.add("tinyreg", str(gguf))
    (tmp_path / "notes.txt").write_text("not a model")
    assert conversion_pending("tinyreg") and conversion_pending(str(gguf))
    assert not conversion_pending(str(tmp_path / "notes.txt"))


@needs_torch
def test_a_conversion_that_cannot_be_kept_says_why(parts, tmp_path):
    from ponder.llm.transformers_backend import STAMP, _save_conversion

    model, tokenizer = parts
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache's folder should be")
    why = _save_conversion(model, tokenizer, blocked / "transformers" / "m-float32", tmp_path / "m.gguf")
    assert why and "saving into" in why and str(blocked) in why
    kept = tmp_path / "ok" / "m-float32"
    assert _save_conversion(model, tokenizer, kept, tmp_path / "m.gguf") is None and (kept / STAMP).is_file()


def test_a_conversion_not_kept_is_one_warning_line(tmp_path, monkeypatch, capsys):
    from dataclasses import replace

    from ponder.cli import ask
    from ponder.cli.options import Options
    from ponder.llm import loader

    class Loaded:
        conversion_unsaved = "saving into /c failed: no room\x1b[2J"

    monkeypatch.setattr(loader, "load_backend", lambda spec, load: Loaded())
    options = Options(model=str(tmp_path / "m.gguf"))
    monkeypatch.setattr("ponder.llm.transformers_backend.conversion_pending", lambda spec: False)
    ask.load_model(replace(options, load=replace(options.load, backend="transformers")))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the conversion was not kept (saving into /c failed: no room" in err
    assert "\x1b" not in err and "the next run converts again" in err
