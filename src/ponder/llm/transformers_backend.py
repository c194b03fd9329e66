"""The transformers backend (`--backend transformers`): a Hugging Face model directory, or a
GGUF read by transformers, run with torch: on CUDA when torch sees a GPU (bf16 where it can,
else fp16), else on the CPU in float32.

Rules that must hold:
- torch and transformers (and gguf and accelerate, for a GGUF) are imported only when a model
  loads; a missing one is one ModelError line naming the `torch` extra. Nothing comes from a
  hub: files are read with `local_files_only`.
- A GGUF is converted by transformers once (dequantized, its tokenizer rebuilt), then saved in
  the dtype it was loaded in under the cache directory, atomically (a temporary directory,
  renamed into place once complete; later loads read it. Where it cannot be kept (no room, a
  cache that cannot be written) the backend's `conversion_unsaved` says why.
- Load problems are one ModelError line (a model without a plain attention KV cache, such as
  Mamba, is refused at load); torch failing mid-run (out of memory) is one PonderError line.
- Every completion, `stream`'s included, is a row of a `TorchBatch`: the rows' KV caches are
  merged, left-padded, into one, and one forward pass per step carries the next token of every
  live row (its own position ids, an attention mask over its own cells). Each row samples on
  the CPU with its own torch.Generator, seeded with its seed, else with one drawn from the
  backend's generator (seeded by --seed): a seed gives the same draws on any device.
- KV caches are kept (at most `keep`, most recent first) with the tokens they hold. A prompt is
  tokenized re-using the tokens of the kept text it extends (text the model wrote keeps the
  tokens it was written as) and starts from the kept cache sharing its longest token prefix:
  only the rest is evaluated, and `prompt_tokens_evaluated` says how much that was. A prompt
  that several rows share is evaluated once. As in llama.cpp, a prompt's last token is decoded
  with the first generation step, never in the prefill.
- Confidence is the top-token probability of the full softmax of each sampled position's
  logits. Stop sequences are cut by `StopScanner`, so no Completion holds one.
- Grammars: one whose root is a choice of string literals (the review's verdict, the judge's
  yes/no) is enforced by masking the logits to tokens that spell one of them; any other is
  ignored (free text). `grammar_method` records which happened; `choose` scores every token
  of each option from the logits (`choose_method` "logits").
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from ponder import paths
from ponder.errors import ModelError, PonderError
from ponder.leftovers import left_by_the_dead
from ponder.llm.backend import (Completion, Delta, ManyItem, Request, Sampling, SeqDelta, SeqDone, StreamItem,
                                common_prefix)
from ponder.llm.llama import LoadOptions, check_gguf
from ponder.llm.llama_parallel import sequence_end
from ponder.llm.stops import StopScanner

EXTRA_HINT = "the transformers backend needs the torch extra: pip install 'ponder[torch]'"
END_TEXTS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<|end|>", "<end_of_turn>", "</s>")
STAMP = "ponder-conversion.json"  # written last into a finished conversion
_LITERAL = r'"(?:[^"\\]|\\.)*"'
_CHOICE_GRAMMAR = re.compile(rf"\s*root\s*::=\s*({_LITERAL}(?:\s*\|\s*{_LITERAL})*)\s*")


# -- loading ---------------------------------------------------------------------------


def load_transformers(spec: str, registered: Any, options: LoadOptions) -> "TransformersBackend":
    """Load `-m`'s model with transformers: a Hugging Face directory, or a GGUF (embedded,
    registered with `ponder models add`, or a path)."""
    if registered is not None and registered.path is None:
        raise ModelError(f"model {registered.name} is a server's model; --backend transformers loads "
                         "a Hugging Face model directory or a GGUF file")
    if registered is None and os.path.isdir(os.path.expanduser(spec)):
        return _from_directory(Path(spec).expanduser(), options)
    from ponder.llm.registry import resolve_model

    path = Path(registered.path) if registered is not None else resolve_model(spec)
    check_gguf(path)
    return _from_gguf(path, options)


def conversion_pending(spec: str) -> bool:
    """True when `spec` names an embedded model, a registered GGUF or a GGUF file that transformers
    has not converted yet."""
    from ponder.llm.registry import EMBEDDED, embedded_state
    from ponder.llm.user_models import lookup

    registered = lookup(spec) if spec not in EMBEDDED else None
    if registered is not None and registered.path is None:
        return False  # a server's model
    path = (embedded_state(EMBEDDED[spec]).path if spec in EMBEDDED
            else Path(registered.path) if registered is not None else Path(spec).expanduser())
    try:
        check_gguf(path)  # not a GGUF: nothing to convert (loading says what it is)
    except (ModelError, OSError):
        return False
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return not (conversion_dir(path, str(_device(torch)[1]).removeprefix("torch.")) / STAMP).is_file()


def conversion_dir(path: Path, dtype: str) -> Path:
    """Where the transformers conversion of the GGUF at `path`, in `dtype`, is kept."""
    stat = path.stat()
    stem = path.stem if len(path.stem.encode("utf-8", "surrogateescape")) <= MAX_STEM_BYTES else (
        path.stem[:40] + "-" + hashlib.sha256(path.stem.encode("utf-8", "surrogateescape")).hexdigest()[:16])
    return paths.cache_dir() / "transformers" / f"{stem}-{stat.st_size}-{stat.st_mtime_ns}-{dtype}"


def _from_directory(directory: Path, options: LoadOptions) -> "TransformersBackend":
    if not (directory / "config.json").is_file():
        raise ModelError(f"{directory} has no config.json: not a Hugging Face model directory")
    model, tokenizer = pretrained(directory, None, options, f"model directory {directory}")
    return TransformersBackend(model, tokenizer, directory.name, options)


def _from_gguf(path: Path, options: LoadOptions) -> "TransformersBackend":
    torch, _ = _modules(gguf=False)
    dtype = str(_device(torch)[1]).removeprefix("torch.")
    converted = conversion_dir(path, dtype)
    if (converted / STAMP).is_file():
        model, tokenizer = pretrained(converted, None, options, f"the conversion of {path.name} in {converted} "
                                                               "(remove that directory to convert again)")
        return TransformersBackend(model, tokenizer, path.name, options)
    model, tokenizer = pretrained(path.parent, path.name, options, f"model {path}")
    unsaved = _save_conversion(model, tokenizer, converted, path)
    backend = TransformersBackend(model, tokenizer, path.name, options)
    backend.conversion_unsaved = unsaved
    return backend


def _modules(gguf: bool) -> tuple[Any, Any]:
    """torch and transformers, imported; ModelError naming the extra when one is missing."""
    needed = ("torch", "transformers") + (("gguf", "accelerate") if gguf else ())
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise ModelError(f"{EXTRA_HINT} (missing: {', '.join(missing)})")
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ModelError(f"{EXTRA_HINT} ({exc})") from None
    return torch, transformers


def _device(torch: Any) -> tuple[str, Any]:
    """CUDA in bf16 (fp16 where bf16 is not supported) when torch sees a GPU, else the CPU in float32."""
    if torch.cuda.is_available():
        return "cuda", torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return "cpu", torch.float32


def pretrained(directory: Path, gguf_file: str | None, options: LoadOptions, what: str) -> tuple[Any, Any]:
    """The model (on its device, in eval mode) and tokenizer in `directory` (its `gguf_file`, if given)."""
    torch, transformers = _modules(gguf=gguf_file is not None)
    if not options.verbose:
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    if options.n_threads:
        torch.set_num_threads(options.n_threads)
    device, dtype = _device(torch)
    where = {"gguf_file": gguf_file} if gguf_file else {}
    quiet = contextlib.nullcontext() if options.verbose else contextlib.redirect_stderr(io.StringIO())
    try:
        with quiet:  # the GGUF reader's progress bar writes to stderr whatever transformers' settings say
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(directory), local_files_only=True, **where)
            model = transformers.AutoModelForCausalLM.from_pretrained(str(directory), dtype=dtype,
                                                                      local_files_only=True, **where)
        model = model.to(device).eval()
    except Exception as exc:  # untrusted files: a SafetensorError, struct.error, ZeroDivisionError, a config check
        raise ModelError(f"cannot load {what} with transformers: {_one_line(exc)}") from None
    return model, tokenizer


def _save_conversion(model: Any, tokenizer: Any, target: Path, source: Path) -> str | None:
    """Keep the dequantized conversion for the next load: best effort, skipped where the weights
    stayed packed (None: nothing to keep); else why it was not kept (no room, saving failed), or None."""
    quantizer = getattr(model, "hf_quantizer", None)
    if getattr(quantizer, "packed_modules", None):
        return None
    work: Path | None = None
    config = model.config
    marker = config.__dict__.pop("quantization_config", None)  # the weights are plain tensors now
    model.hf_quantizer = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        size = sum(p.numel() * p.element_size() for p in model.parameters())
        free = shutil.disk_usage(target.parent).free
        if free < 2 * size + 2**30:
            return f"{target.parent} has {free // 2**20} MiB free, {(2 * size + 2**30) // 2**20} MiB are needed"
        _sweep_conversions(target.parent)
        work = Path(tempfile.mkdtemp(prefix=f"{CONVERTING}{os.getpid()}-", dir=target.parent))
        model.save_pretrained(str(work))
        tokenizer.save_pretrained(str(work))
        (work / STAMP).write_text(json.dumps({"gguf": str(source), "dtype": target.name.rsplit("-", 1)[-1]}))
        os.replace(work, target)
        return None
    except Exception as exc:  # a cache, not a result: transformers raises many kinds of error here
        return f"saving into {target.parent} failed: {_one_line(exc)}"
    finally:
        model.hf_quantizer = quantizer
        if marker is not None:
            config.quantization_config = marker
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


MAX_STEM_BYTES = 120  # of a GGUF's name in its conversion's directory name (a name has 255 bytes at most)
CONVERTING = ".converting-"  # a conversion being saved: .converting-PID-XXXX, moved into place when whole


def _sweep_conversions(parent: Path) -> None:
    """Remove what conversions killed part-way left (a dead ponder's .converting-PID-*): gigabytes
    each, that nothing else would ever remove."""
    for leftover in left_by_the_dead(parent, CONVERTING):
        shutil.rmtree(leftover, ignore_errors=True)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's byte-to-character table (byte-level BPE vocabularies spell bytes with it)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


BYTE_OF_CHAR = _byte_decoder()  # a byte-level vocabulary's character -> the byte it spells


def literal_choices(grammar: str) -> tuple[str, ...] | None:
    """The strings a GBNF grammar `root ::= "a" | "b" ...` allows, or None for any other grammar."""
    found = _CHOICE_GRAMMAR.fullmatch(grammar)
    if not found:
        return None
    try:
        return tuple(json.loads(literal) for literal in re.findall(_LITERAL, found.group(1)))
    except ValueError:
        return None


# -- the backend ------------------------------------------------------------------------


@dataclass
class _Kept:
    """A KV cache kept for re-use: the tokens of a text, and the cells of the first `held` of them."""

    tokens: list[int]
    layers: list[tuple[Any, Any]]  # per layer (keys, values), [1, heads, held, head_dim]
    held: int


class TransformersBackend:
    """A causal language model run with torch (see the module rules)."""

    def __init__(self, model: Any, tokenizer: Any, name: str, options: LoadOptions = LoadOptions(),
                 keep: int | None = None) -> None:
        import torch

        self.torch, self.model, self.tokenizer, self.name = torch, model, tokenizer, name
        self.device = next(model.parameters()).device
        limit = getattr(model.config, "max_position_embeddings", None) or options.n_ctx
        self.n_ctx = min(options.n_ctx, limit)
        self.sequences = max(1, options.sequences)
        self.keep = keep or 2 * self.sequences + 1
        self.rng = torch.Generator().manual_seed(options.seed)
        self.n_vocab = len(tokenizer)
        self.kept: list[_Kept] = []
        self.grammar_method: str | None = None  # "choices" or "ignored", once a grammar was asked for
        self.choose_method: str | None = None  # "logits", once `choose` ran
        self.conversion_unsaved: str | None = None  # why a GGUF's conversion could not be kept
        self._special = {i: t.content for i, t in tokenizer.added_tokens_decoder.items()}
        decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
        self._byte_level = "ByteLevel" in repr(decoder)
        self._pieces: dict[int, bytes] = {}
        self._by_piece: dict[bytes, list[int]] | None = None
        self.eog = self._end_tokens()
        self.bos = self._bos()
        self._check_cache()

    def _check_cache(self) -> None:
        """ModelError unless one token fills a plain attention KV cache in every layer (a state-space
        model such as Mamba keeps none this backend can trim, share and batch)."""
        cache = self.cache([])
        try:
            self.run(input_ids=self.torch.tensor([[0]], device=self.device),
                     past_key_values=cache, logits_to_keep=1)
        except (PonderError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"model {self.name} cannot run with a key-value cache here: {_one_line(exc)}") from None
        layers = cells(cache)
        if not layers or len(layers) != len(cache.layers) or any(k.dim() != 4 or k.shape[2] != 1 for k, _ in layers):
            raise ModelError(f"model {self.name} keeps no plain attention key-value cache; the transformers "
                             "backend runs attention decoders (Llama, Qwen, Mistral, Phi-3, Gemma…)")

    def _end_tokens(self) -> frozenset[int]:
        """The tokens that end generation: the tokenizer's and the model's EOS, and known end-of-turn tokens."""
        found: set[int] = set()
        config = getattr(self.model, "generation_config", None)
        for ids in (self.tokenizer.eos_token_id, getattr(config, "eos_token_id", None)):
            found.update(ids if isinstance(ids, (list, tuple)) else [] if ids is None else [ids])
        found.update(i for i, text in self._special.items() if text in END_TEXTS)
        return frozenset(found)

    def _bos(self) -> int | None:
        """The token the tokenizer puts first, if it adds one."""
        bos = self.tokenizer.bos_token_id
        plain = self.tokenizer("a", add_special_tokens=False).input_ids
        marked = self.tokenizer("a", add_special_tokens=True).input_ids
        return bos if bos is not None and marked[:1] == [bos] and plain[:1] != [bos] else None

    # -- prompts and tokens --------------------------------------------------------------

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str:
        """Render messages with the tokenizer's chat template (ChatML if it has none)."""
        if getattr(self.tokenizer, "chat_template", None):
            try:
                return str(self.tokenizer.apply_chat_template(list(messages), tokenize=False,
                                                              add_generation_prompt=True))
            except Exception as exc:  # jinja's errors share no base class
                raise PonderError(f"the model's chat template failed: {_one_line(exc)}") from None
        parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
        return "".join(parts) + "<|im_start|>assistant\n"

    def count_tokens(self, text: str) -> int:
        """Number of tokens `text` encodes to."""
        return len(self.encode(text))

    def encode(self, text: str) -> list[int]:
        """`text`'s tokens (special tokens written in it parsed), nothing added."""
        return list(self.tokenizer(text, add_special_tokens=False).input_ids) if text else []

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for."""
        found = self._pieces.get(token)
        if found is None:
            found = self._pieces[token] = self._piece_of(token)
        return found

    def _piece_of(self, token: int, text: Any = None) -> bytes:
        """The bytes of `token`, whose vocabulary entry is `text` (looked up when not given)."""
        if token in self._special:
            return self._special[token].encode("utf-8")
        text = self.tokenizer.convert_ids_to_tokens(token) if text is None else text
        if not isinstance(text, str):
            return b""
        if self._byte_level:
            try:
                return bytes(BYTE_OF_CHAR[c] for c in text)
            except KeyError:
                return text.encode("utf-8")
        hexbyte = re.fullmatch(r"<0x([0-9A-Fa-f]{2})>", text)  # sentencepiece's byte fallback
        return bytes([int(hexbyte.group(1), 16)]) if hexbyte else text.replace("\u2581", " ").encode("utf-8")

    def tokens_for(self, prompt: str) -> list[int]:
        """`prompt`'s tokens, re-using the tokens of the kept text it extends furthest."""
        data = prompt.encode("utf-8")
        best: list[int] = []
        offset = 0
        for kept in self.kept:
            matched, at = 0, 0
            for token in kept.tokens:
                piece = self.piece(token)
                if not data.startswith(piece, at):
                    break
                matched, at = matched + 1, at + len(piece)
            if matched > len(best):
                best, offset = kept.tokens[:matched], at
        while best and offset < len(data) and data[offset] & 0xC0 == 0x80:  # never split a character
            offset -= len(self.piece(best[-1]))
            best = best[:-1]
        tokens = best + self.encode(data[offset:].decode("utf-8"))
        if not best and self.bos is not None and tokens[:1] != [self.bos]:
            tokens.insert(0, self.bos)
        return tokens

    # -- caches --------------------------------------------------------------------------

    def prefix(self, head: list[int]) -> tuple[list[tuple[Any, Any]], int]:
        """Cells holding `head` (starting from the kept cache sharing most of it), and how many
        of its tokens had to be evaluated; the result is kept too."""
        best, reuse = None, 0
        for kept in self.kept:
            length = min(common_prefix(kept.tokens, head), kept.held)
            if length > reuse:
                best, reuse = kept, length
        layers = [(k[:, :, :reuse], v[:, :, :reuse]) for k, v in best.layers] if best is not None else []
        if reuse < len(head):
            layers = self._evaluate(layers, head[reuse:], reuse)
            self.keep_cells(list(head), layers, len(head))
        elif best is not None:
            self.kept.remove(best)
            self.kept.insert(0, best)
        return layers, len(head) - reuse

    def _evaluate(self, layers: list[tuple[Any, Any]], tokens: list[int], start: int) -> list[tuple[Any, Any]]:
        """`layers` extended with the cells of `tokens` (at positions from `start`)."""
        torch = self.torch
        cache = self.cache(layers)
        ids = torch.tensor([tokens], device=self.device)
        positions = torch.arange(start, start + len(tokens), device=self.device)[None, :]
        self.run(input_ids=ids, position_ids=positions, past_key_values=cache, logits_to_keep=1)
        return cells(cache)

    def run(self, **inputs: Any) -> Any:
        """One forward pass of the model (no gradients, the cache extended); torch's failures
        (out of memory among them) are one PonderError line."""
        try:
            with self.torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a library's deprecation notes are no message of ponder's
                return self.model(use_cache=True, **inputs)
        except (RuntimeError, IndexError, ValueError) as exc:  # out of memory; a token past the embeddings
            raise PonderError(f"the model failed in torch: {_one_line(exc)}") from None

    def cache(self, layers: list[tuple[Any, Any]]) -> Any:
        """A transformers DynamicCache holding `layers`."""
        from transformers import DynamicCache

        cache = DynamicCache()
        for index, (keys, values) in enumerate(layers):
            cache.update(keys, values, index)
        return cache

    def keep_cells(self, tokens: list[int], layers: list[tuple[Any, Any]], held: int) -> None:
        """Keep cells for re-use (first in line), dropping kept ones they cover; at most `keep`."""
        if any(kept.held >= held and common_prefix(kept.tokens, tokens) == len(tokens) for kept in self.kept):
            return
        self.kept = [kept for kept in self.kept
                     if not (kept.held <= held and common_prefix(kept.tokens, tokens) == len(kept.tokens))]
        self.kept.insert(0, _Kept(tokens, layers, held))
        del self.kept[self.keep:]

    def forget(self) -> None:
        """Drop every kept cache (the next prompt is evaluated from scratch)."""
        self.kept = []

    # -- sampling ------------------------------------------------------------------------

    def generator(self, sampling: Sampling) -> Any:
        """The CPU generator a row samples with: its seed, else one drawn from the backend's."""
        torch = self.torch
        if sampling.temperature <= 0:
            return None
        seed = sampling.seed if sampling.seed is not None else int(torch.randint(0, 2**31 - 1, (1,), generator=self.rng))
        return torch.Generator().manual_seed(seed)

    def pick(self, logits: Any, sampling: Sampling, generator: Any, allowed: set[int] | None) -> int:
        """The next token from one position's logits (float32, CPU): greedy at temperature 0, else
        top-k, top-p, min-p and temperature, as llama.cpp orders them."""
        torch = self.torch
        logits = logits[: self.n_vocab]
        allowed = {t for t in allowed if t < logits.numel()} if allowed else None
        if allowed:
            index = torch.tensor(sorted(allowed))
            masked = torch.full_like(logits, float("-inf"))
            masked[index] = logits[index]
            logits = masked
        if sampling.temperature <= 0:
            return int(torch.argmax(logits))
        k = sampling.top_k if 0 < sampling.top_k < logits.numel() else logits.numel()
        values, ids = torch.topk(logits, k)
        probs = torch.softmax(values, dim=-1)
        keep = torch.ones_like(probs, dtype=torch.bool)
        if sampling.top_p < 1.0:
            keep &= (torch.cumsum(probs, dim=-1) - probs) < sampling.top_p
        if sampling.min_p > 0.0:
            keep &= probs >= sampling.min_p * probs[0]
        weights = torch.softmax(values[keep] / sampling.temperature, dim=-1)
        return int(ids[keep][torch.multinomial(weights, 1, generator=generator)])

    def choices(self, sampling: Sampling) -> tuple[bytes, ...] | None:
        """The strings a sampling's grammar allows, when it is a choice of literals (recorded in `grammar_method`)."""
        if sampling.grammar is None:
            return None
        options = literal_choices(sampling.grammar)
        self.grammar_method = "choices" if options else "ignored"
        return tuple(o.encode("utf-8") for o in options) if options else None

    def allowed(self, options: tuple[bytes, ...], written: bytes) -> set[int] | None:
        """Tokens that continue `written` towards one of `options` (an end token where one is
        complete); None when nothing would."""
        if self._by_piece is None:
            self._by_piece = {}
            names = self.tokenizer.convert_ids_to_tokens(list(range(self.n_vocab)))
            for token, name in enumerate(names):
                piece = self._piece_of(token, name)
                if piece and token not in self._special:
                    self._by_piece.setdefault(piece, []).append(token)
        found: set[int] = set()
        for option in options:
            if option == written:
                found |= self.eog
            elif option.startswith(written):
                rest = option[len(written):]
                for length in range(1, len(rest) + 1):
                    found.update(self._by_piece.get(rest[:length], ()))
        return found or None

    # -- generation ----------------------------------------------------------------------

    def stream(self, prompt: str, sampling: Sampling) -> Iterator[StreamItem]:
        """Stream a completion, stopping at a stop sequence, end of generation or max_tokens."""
        batch = TorchBatch(self, capacity=1, clamp=True)
        try:
            batch.add(Request(prompt, sampling))
            while batch.live:
                for item in batch.step():
                    yield item.delta if isinstance(item, SeqDelta) else item.completion
        finally:
            batch.close()

    def open_batch(self) -> "TorchBatch":
        """A batch of sequences decoded together, one forward pass per step."""
        return TorchBatch(self)

    def room(self, tokens: list[int], sampling: Sampling, clamp: bool) -> int:
        """The most new tokens a prompt may get: `max_tokens`, cut to what the context holds when
        `clamp`; a PonderError when it does not fit."""
        if clamp:
            if self.n_ctx - len(tokens) <= 1:
                raise PonderError(f"the context is full ({len(tokens)} of {self.n_ctx} tokens); raise --ctx")
            return min(sampling.max_tokens, self.n_ctx - len(tokens) - 1)
        if len(tokens) + sampling.max_tokens > self.n_ctx:
            raise PonderError(f"a {len(tokens)}-token prompt and up to {sampling.max_tokens} new tokens "
                              f"do not fit --ctx {self.n_ctx}; raise --ctx")
        return sampling.max_tokens

    def choose(self, prompt: str, options: Sequence[str]) -> list[float]:
        """The probability of each option as the continuation of `prompt`, every token of it
        scored, renormalized over the options. Keeps the cells of the prompt."""
        torch = self.torch
        tokens = self.tokens_for(prompt)
        layers, _ = self.prefix(tokens[:-1])
        base = len(tokens) - 1
        scores = []
        for option in options:
            sequence = self.encode(option)
            inputs = [tokens[-1]] + sequence[:-1]
            ids = torch.tensor([inputs], device=self.device)
            positions = torch.arange(base, base + len(inputs), device=self.device)[None, :]
            logits = self.run(input_ids=ids, position_ids=positions, past_key_values=self.cache(layers),
                              logits_to_keep=len(inputs)).logits[0].float()
            log_probs = torch.log_softmax(logits, dim=-1)
            scores.append(sum(float(log_probs[i, t]) for i, t in enumerate(sequence)))
        self.choose_method = "logits"
        weights = torch.softmax(torch.tensor(scores, dtype=torch.float64), dim=0)
        return [float(w) for w in weights]


def cells(cache: Any) -> list[tuple[Any, Any]]:
    """The (keys, values) of every layer of a DynamicCache."""
    return [(layer.keys, layer.values) for layer in cache.layers if layer.is_initialized]


# -- the batch -------------------------------------------------------------------------


@dataclass
class _Row:
    """One request while it generates."""

    index: int
    request: Request
    tokens: list[int]  # the prompt's
    evaluated: int  # prompt tokens evaluated for it
    start: float
    max_tokens: int
    generator: Any
    options: tuple[bytes, ...] | None  # what a choice grammar allows
    scanner: StopScanner
    layers: list[tuple[Any, Any]] | None  # its own cells, until merged into the batch's
    pending: int  # the token to decode next (the prompt's last, then each sampled one)
    decoded: int  # cells it holds
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))
    generated: list[int] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    emitted: list[str] = field(default_factory=list)
    written: bytes = b""
    first_token_at: float | None = None
    reason: str = "length"
    done: bool = False


class TorchBatch:
    """Rows decoded together, continuously: one forward pass per step over a merged, left-padded
    KV cache (see the module rules). Requests beyond `capacity` wait for a row to end."""

    def __init__(self, backend: TransformersBackend, capacity: int | None = None, clamp: bool = False) -> None:
        self.b = backend
        self.capacity = capacity or backend.sequences
        self.clamp = clamp
        self.rows: list[_Row] = []  # merged into `self.merged`, in its batch order
        self.joining: list[_Row] = []
        self.waiting: list[tuple[int, Request]] = []
        self.merged: Any = None  # the DynamicCache of `rows`, [rows, heads, width, head_dim]
        self.pads: list[int] = []
        self.added = 0

    @property
    def live(self) -> int:
        """How many requests are still generating or waiting."""
        return self._running() + len(self.waiting)

    def _running(self) -> int:
        return sum(1 for row in self.rows if not row.done) + len(self.joining)

    def add(self, request: Request) -> int:
        """Start a request (its prompt evaluated now) or queue it; its index."""
        index, self.added = self.added, self.added + 1
        if self._running() >= self.capacity:
            self.waiting.append((index, request))
        else:
            self._start(index, request)
        return index

    def _start(self, index: int, request: Request) -> None:
        start = time.perf_counter()
        tokens = self.b.tokens_for(request.prompt)
        if not tokens:
            raise PonderError("the prompt is empty: there is nothing to continue")
        max_tokens = self.b.room(tokens, request.sampling, self.clamp)
        layers, evaluated = self.b.prefix(tokens[:-1])
        self.joining.append(_Row(index, request, tokens, evaluated + 1, start, max_tokens,
                                 self.b.generator(request.sampling), self.b.choices(request.sampling),
                                 StopScanner(request.sampling.stop), layers, tokens[-1], len(tokens) - 1))

    def step(self) -> list[ManyItem]:
        """One forward pass carrying the next token of every live row; what each wrote, and a
        SeqDone for each that ended."""
        if self.joining or any(row.done for row in self.rows):
            self._regroup()
        out: list[ManyItem] = []
        if self.rows:
            logits = self._forward()
            peaks = logits.max(dim=-1, keepdim=True).values
            confidence = (1.0 / (logits - peaks).exp().sum(dim=-1)).tolist()
            for i, row in enumerate(self.rows):
                row.decoded += 1
                out += self._advance(row, i, logits[i], confidence[i])
        while self.waiting and self._running() < self.capacity:
            self._start(*self.waiting.pop(0))
        return out

    def close(self) -> None:
        """End the batch, keeping the cells of every row for re-use."""
        for i, row in enumerate(self.rows):
            if not row.done:
                self._settle(row, i)
        for row in self.joining:
            self.b.keep_cells(row.tokens + row.generated, row.layers or [], row.decoded)
        self.rows, self.joining, self.waiting, self.merged = [], [], [], None

    def _regroup(self) -> None:
        """Merge the live rows' cells (joining rows' own included) into one left-padded cache."""
        current = cells(self.merged) if self.merged is not None else []
        parts, rows = [], []
        for i, row in enumerate(self.rows):
            if not row.done:
                pad = self.pads[i]
                parts.append([(k[i:i + 1, :, pad:], v[i:i + 1, :, pad:]) for k, v in current])
                rows.append(row)
        for row in self.joining:
            parts.append(row.layers or [])
            row.layers = None
            rows.append(row)
        width = max((row.decoded for row in rows), default=0)
        self.pads = [width - row.decoded for row in rows]
        self.rows, self.joining = rows, []
        self.merged = self.b.cache(_merge(self.b.torch, parts, self.pads)) if rows else None

    def _forward(self) -> Any:
        """The next-token logits of every row (float32, on the CPU)."""
        torch, device = self.b.torch, self.b.device
        width = self.merged.get_seq_length()
        ids = torch.tensor([[row.pending] for row in self.rows], device=device)
        positions = torch.tensor([[row.decoded] for row in self.rows], device=device)
        pads = torch.tensor(self.pads, device=device)
        mask = (torch.arange(width + 1, device=device)[None, :] >= pads[:, None]).long()
        out = self.b.run(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=self.merged,
                         logits_to_keep=1)
        return out.logits[:, -1].float().cpu()

    def _advance(self, row: _Row, i: int, logits: Any, confidence: float) -> list[ManyItem]:
        """Sample the row's next token; its text; its end if it ended."""
        if row.first_token_at is None:
            row.first_token_at = time.perf_counter()
        allowed = self.b.allowed(row.options, row.written) if row.options else None
        token = self.b.pick(logits, row.request.sampling, row.generator, allowed)
        if token in self.b.eog:
            row.reason = "eos"
            return self._finish(row, i)
        row.generated.append(token)
        row.confidences.append(confidence)
        row.pending = token
        piece = self.b.piece(token)
        row.written += piece
        out: list[ManyItem] = []
        text = row.scanner.feed(row.decoder.decode(piece))
        if text:
            row.emitted.append(text)
            out.append(SeqDelta(row.index, Delta(text, confidence)))
        chosen = row.options is not None and row.written in row.options and \
            not any(o.startswith(row.written) and o != row.written for o in row.options)
        if row.scanner.stopped or chosen:
            row.reason = "stop" if row.scanner.stopped else "eos"
        if row.scanner.stopped or chosen or len(row.generated) >= row.max_tokens:
            out += self._finish(row, i)
        return out

    def _finish(self, row: _Row, i: int) -> list[ManyItem]:
        row.done = True
        self._settle(row, i)
        return list(sequence_end(row))

    def _settle(self, row: _Row, i: int) -> None:
        """Keep a row's cells (copied out of the merged cache) for the prompts that extend it."""
        pad = self.pads[i]
        layers = [(k[i:i + 1, :, pad:pad + row.decoded].clone(), v[i:i + 1, :, pad:pad + row.decoded].clone())
                  for k, v in cells(self.merged)]
        self.b.keep_cells(row.tokens + row.generated, layers, row.decoded)


def _merge(torch: Any, parts: list[list[tuple[Any, Any]]], pads: list[int]) -> list[tuple[Any, Any]]:
    """Rows' cells stacked into one batch, each left-padded by its pad (empty rows all padding)."""
    shaped = next((part for part in parts if part), None)
    if shaped is None:
        return []
    pad = torch.nn.functional.pad
    merged = []
    for layer, (k0, v0) in enumerate(shaped):
        keys, values = [], []
        for part, width in zip(parts, pads):
            k, v = part[layer] if part else (k0[:, :, :0], v0[:, :, :0])
            keys.append(pad(k, (0, 0, width, 0)))
            values.append(pad(v, (0, 0, width, 0)))
        merged.append((torch.cat(keys), torch.cat(values)))
    return merged
