"""The llama.cpp backend: a GGUF model in-process through llama-cpp-python.

Rules that must hold:
- `llama_cpp` is imported only when a model is loaded, so `ponder --help` stays fast.
- Native logs are dropped unless `verbose`; load failures become `ModelError`, never a
  traceback or a crash.
- The KV cache is re-used across calls: the prompt is matched, byte for byte, against the
  tokens of the previous prompt and its output, and only the unmatched tail is tokenized
  and evaluated. `prompt_tokens_evaluated` reports what llama.cpp actually had to evaluate.
- The prompt's last token is always decoded on its own, so sampling does not depend on
  what happened to be cached (batched and single decodes round differently).
- Confidence is the top-token probability read from the logits of each sampled position
  (no `logits_all`), costing one softmax per token.
- The context holds `sequences` sequences, each in a KV stream of its own of n_ctx cells
  (the loaded weights are shared, never copied; split streams, because attention over one
  unified buffer would also compute across every other sequence's cells): `stream` uses
  sequence 0, a batch (`open_batch`) decodes several sequences together (`llama_parallel`).
  Whatever one path does to the cache, the other's record of it is kept exact.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import os
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from ponder.errors import ModelError, PonderError, UsageError
from ponder.llm.backend import Completion, Delta, Sampling, StreamItem
from ponder.llm.llama_parallel import LlamaBatch, Slots
from ponder.llm.stops import StopScanner

GGUF_MAGIC = b"GGUF"
_LOG_CALLBACK: Any = None  # kept referenced for as long as llama.cpp may call it


@dataclass(frozen=True)
class LoadOptions:
    """How to load a GGUF model."""

    n_ctx: int = 4096
    n_threads: int | None = None
    gpu_layers: str | int = "auto"
    seed: int = 0
    verbose: bool = False
    sequences: int = 4  # sequences one context decodes together, each with n_ctx cells of its own
    base_url: str | None = None  # an OpenAI-compatible server to use instead (`llm.openai_http`)
    backend: str = "llama"  # or "transformers": the model run with torch (`llm.transformers_backend`)


def check_gguf(path: Path) -> None:
    """Raise ModelError unless `path` is a readable file that starts like a GGUF."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ModelError(f"model file not found: {path}") from None
    except OSError as exc:  # a name too long, a symlink loop, no permission on the way
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise ModelError(f"model path is not a file: {path}")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror}") from None
    if magic != GGUF_MAGIC:
        raise ModelError(f"not a GGUF model file: {path}")


def _silence_native_logs(verbose: bool) -> None:
    """Route llama.cpp's log callback to stderr when verbose, else nowhere."""
    global _LOG_CALLBACK
    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if verbose:
            sys.stderr.write(text.decode("utf-8", errors="replace"))

    _LOG_CALLBACK = callback
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def resolve_gpu_layers(gpu_layers: str | int) -> int:
    """`auto` means every layer when this build can offload, else none."""
    if isinstance(gpu_layers, int):
        return gpu_layers
    if gpu_layers == "auto":
        import llama_cpp

        return -1 if llama_cpp.llama_supports_gpu_offload() else 0
    try:
        return int(gpu_layers)
    except ValueError:
        raise UsageError(f"--gpu-layers must be 'auto' or a number, not {gpu_layers!r}") from None


class LlamaBackend:
    """A GGUF model loaded in this process."""

    def __init__(self, path: Path, options: LoadOptions = LoadOptions()) -> None:
        check_gguf(path)
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelError(f"llama-cpp-python is not installed ({exc}); pip install llama-cpp-python") from None
        _silence_native_logs(options.verbose)
        threads = options.n_threads or os.cpu_count() or 1
        self.gpu_layers = resolve_gpu_layers(options.gpu_layers)
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=options.n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=self.gpu_layers,
                seed=options.seed,
                logits_all=False,
                verbose=options.verbose,
            )
            if options.sequences > 1:
                self._parallel_context(options.n_ctx, options.sequences, options.verbose)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"cannot load model {path}: {exc}") from None
        self._llama_cpp = llama_cpp
        self.name = path.name
        self.path = path
        self.n_ctx = options.n_ctx if options.sequences > 1 else self.llm.n_ctx()  # what one sequence may hold
        self.n_vocab = self.llm.n_vocab()
        self._vocab = self.llm._model.vocab
        self._known_tokens: list[int] = []
        self._known_pieces: list[bytes] = []
        self._grammars: dict[str, Any] = {}
        self._scratch: Any = None
        self._slots = Slots(llama_cpp, self.llm, max(1, options.sequences))
        self.n_batch = self.llm.n_batch

    def _parallel_context(self, n_ctx: int, sequences: int, verbose: bool) -> None:
        """Re-create the context (same weights) with one KV stream of n_ctx cells for each of
        `sequences` sequences: a sequence attends only to its own cells, never across."""
        from llama_cpp import _internals

        params = self.llm.context_params
        params.n_ctx = n_ctx * sequences
        params.n_seq_max = sequences
        params.kv_unified = False
        self.llm._ctx.close()
        context = _internals.LlamaContext(model=self.llm._model, params=params, verbose=verbose)
        self.llm._ctx = self.llm._stack.enter_context(contextlib.closing(context))

    # -- prompts and tokens --------------------------------------------------------------

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str:
        """Render messages with the model's own chat template (ChatML if it has none)."""
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
            return "".join(parts) + "<|im_start|>assistant\n"
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        def token_text(token_id: int) -> str:
            if token_id < 0:
                return ""
            return self.llm.detokenize([token_id], special=True).decode("utf-8", errors="replace")

        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=token_text(self.llm.token_eos()),
            bos_token=token_text(self.llm.token_bos()),
            add_generation_prompt=True,
        )
        return formatter(messages=list(messages)).prompt

    def count_tokens(self, text: str) -> int:
        """Number of tokens `text` encodes to."""
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _prompt_tokens(self, prompt: str) -> list[int]:
        """Tokens for `prompt`, re-using the known tokens of the longest matching prefix."""
        data = prompt.encode("utf-8")
        matched, offset = 0, 0
        for piece in self._known_pieces:
            if not data.startswith(piece, offset):
                break
            matched += 1
            offset += len(piece)
        tail = data[offset:]
        add_bos = matched == 0 and self._adds_bos()
        new = self.llm.tokenize(tail, add_bos=add_bos, special=True) if tail else []
        tokens = self._known_tokens[:matched] + new
        self._known_tokens = tokens
        self._known_pieces = self._known_pieces[:matched] + [self._piece(t) for t in new]
        return tokens

    def _adds_bos(self) -> bool:
        return bool(self.llm.tokenize(b"", add_bos=True, special=True))

    def _piece(self, token: int) -> bytes:
        return self.llm.detokenize([token], special=True)

    def _prefill(self, tokens: list[int]) -> int:
        """Put all but the last prompt token in the KV cache, re-using its matching prefix.

        The last token is left for `generate` to decode alone, so the logits that pick the
        first new token always come from a one-token decode: the same prompt samples the
        same way whether or not it was cached. Returns how many tokens get evaluated.
        """
        head = tokens[:-1]
        cached = self.llm.input_ids[: self.llm.n_tokens]
        reuse = 0
        for a, b in zip(cached, head):
            if a != b:
                break
            reuse += 1
        self.llm.n_tokens = reuse
        self._slots.truncate_all(reuse)  # llama's eval drops every sequence's cells from here on
        if reuse < len(head):
            self.llm.eval(head[reuse:])
        return len(tokens) - reuse

    # -- generation ----------------------------------------------------------------------

    def stream(self, prompt: str, sampling: Sampling) -> Iterator[StreamItem]:
        """Stream a completion, stopping at a stop sequence, end of generation or max_tokens."""
        start = time.perf_counter()
        tokens = self._prompt_tokens(prompt)
        room = self.n_ctx - len(tokens)
        if room <= 1:
            raise PonderError(f"the context is full ({len(tokens)} of {self.n_ctx} tokens); raise --ctx")
        max_tokens = min(sampling.max_tokens, room - 1)
        evaluated = self._prefill(tokens)
        if sampling.seed is not None:
            self.llm.set_seed(sampling.seed)
        scanner = StopScanner(sampling.stop)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        generated: list[int] = []
        confidences: list[float] = []
        emitted: list[str] = []
        reason = "length"
        first_token_at: float | None = None
        stream = self.llm.generate(
            tokens,
            temp=sampling.temperature,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=0.0,
            repeat_penalty=1.0,
            grammar=self._grammar(sampling.grammar),
        )
        try:
            for token in stream:
                if first_token_at is None:
                    first_token_at = time.perf_counter()
                if self._llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    reason = "eos"
                    break
                confidence = self._top_probability()
                generated.append(token)
                confidences.append(confidence)
                text = scanner.feed(decoder.decode(self._piece(token)))
                if text:
                    emitted.append(text)
                    yield Delta(text, confidence)
                if scanner.stopped:
                    reason = "stop"
                    break
                if len(generated) >= max_tokens:
                    break
        finally:
            stream.close()
            self._known_tokens = tokens + generated
            self._known_pieces = self._known_pieces + [self._piece(t) for t in generated]
        tail = scanner.feed(decoder.decode(b"", final=True)) + scanner.flush()
        if tail:
            emitted.append(tail)
            yield Delta(tail, None)
        yield Completion(
            text="".join(emitted),
            stop_reason=reason,
            completion_tokens=len(generated),
            prompt_tokens=len(tokens),
            prompt_tokens_evaluated=evaluated,
            seconds=time.perf_counter() - start,
            confidences=tuple(confidences),
            prompt_seconds=(first_token_at or time.perf_counter()) - start,
        )

    def open_batch(self) -> "_SyncedBatch":
        """A batch of sequences decoded together in this context (see `llama_parallel`)."""
        return _SyncedBatch(self)

    def forget(self) -> None:
        """Drop every cached sequence (the next prompt is evaluated from scratch)."""
        self._llama_cpp.llama_memory_clear(self._llama_cpp.llama_get_memory(self.llm.ctx), True)
        self.llm.n_tokens = 0
        for slot in range(1, self._slots.n_slots):
            self._slots.held[slot] = []
        self._known_tokens, self._known_pieces = [], []

    def choose(self, prompt: str, options: Sequence[str]) -> list[float]:
        """The probability of each option as the continuation of `prompt`, every token of it
        scored, renormalized over the options. Leaves the cache holding the prompt."""
        import numpy as np

        tokens = self._prompt_tokens(prompt)
        self._prefill(tokens)
        base = len(tokens) - 1  # the prompt's last token is decoded with each option's tokens
        log_probs = []
        for option in options:
            sequence = self.llm.tokenize(option.encode("utf-8"), add_bos=False, special=True)
            inputs = [tokens[-1]] + sequence[:-1]
            self.llm.n_tokens = base
            total = 0.0
            for token_in, token_out in zip(inputs, sequence):
                self.llm.eval([token_in])
                total += self._log_probability(token_out)
            log_probs.append(total)
        self.llm.n_tokens = base
        weights = np.exp(np.array(log_probs) - max(log_probs))
        return [float(w) for w in weights / weights.sum()]

    def _log_probability(self, token: int) -> float:
        """Log-probability of `token` at the position just decoded."""
        import numpy as np

        pointer = self._llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,)).astype(np.float64)
        peak = logits.max()
        return float(logits[token] - peak - np.log(np.exp(logits - peak).sum()))

    def _top_probability(self, index: int = -1) -> float:
        """Probability of the most likely token at the position just sampled (row `index` of
        the last batch's logits)."""
        import numpy as np

        pointer = self._llama_cpp.llama_get_logits_ith(self.llm.ctx, index)
        logits = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
        if self._scratch is None:
            self._scratch = np.empty(self.n_vocab, dtype=np.float32)
        np.subtract(logits, logits.max(), out=self._scratch)
        np.exp(self._scratch, out=self._scratch)
        return float(1.0 / self._scratch.sum())

    def _grammar(self, gbnf: str | None) -> Any:
        if gbnf is None:
            return None
        if gbnf not in self._grammars:
            from llama_cpp import LlamaGrammar

            try:
                self._grammars[gbnf] = LlamaGrammar.from_string(gbnf, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise PonderError(f"invalid grammar: {exc}") from None
        return self._grammars[gbnf]


class _SyncedBatch(LlamaBatch):
    """A LlamaBatch that, once closed, hands sequence 0's cells back to the single-stream path."""

    def close(self) -> None:
        """Close the batch and re-align `stream`'s prefix matching with what slot 0 holds."""
        super().close()
        held = self.slots.content(0)
        self.b._known_tokens = held
        self.b._known_pieces = [self.slots.piece(t) for t in held]
