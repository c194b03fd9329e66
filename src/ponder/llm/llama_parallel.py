"""Several sequences decoded together in one llama.cpp context, continuously: the batch
behind `LlamaBackend.open_batch`.

Rules that must hold:
- One context; each slot (sequence) has a KV stream of its own, so it attends only to its own
  cells; slot 0 is the sequence the single-stream path (`Llama.generate`) uses, the others
  belong to batches. A slot's token list mirrors exactly the cells it holds.
- A request joins when it is added: it starts from the slot sharing its longest token
  prefix (an idle slot, or a copy of another slot's stream, trimmed to the prefix:
  `llama_memory_seq_cp` copies cells, it evaluates nothing) and evaluates only its own
  tail, so a prompt shared by n samples is evaluated once, and a chain's next step re-uses
  the cells of its last.
- Generation is one `llama_decode` per step carrying the next token of every live sequence;
  logits are read at each sequence's own batch index; each sequence has its own sampler
  chain (its own seed and grammar) and stops on its own stop string, end of generation or
  token budget. A sequence that ends frees its place in the next step at once.
- Requests beyond the slots wait, and start as sequences end. Idle slots keep their cells
  for re-use. A request that its slot cannot hold (prompt and
  token budget beyond --ctx) is refused before anything is decoded, with one line
  (PonderError); a decode that finds no room is the same error, never a crash.
- As in the single-stream path, each prompt's last token is decoded with the first
  generation step, never in the prefill.
"""

from __future__ import annotations

import codecs
import time
from dataclasses import dataclass, field
from typing import Any

from ponder.errors import PonderError
from ponder.llm.backend import Completion, Delta, Request, SeqDelta, SeqDone, common_prefix
from ponder.llm.stops import StopScanner

@dataclass
class _Live:
    """One sequence of a wave while it generates."""

    index: int
    slot: int
    request: Request
    tokens: list[int]  # the prompt's tokens
    evaluated: int  # prompt tokens this sequence had evaluated in the prefill
    sampler: Any
    scanner: StopScanner
    start: float
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))
    generated: list[int] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    emitted: list[str] = field(default_factory=list)
    pending: int = -1  # the token to decode next step (the prompt's last, then each sampled one)
    decoded: int = 0  # positions of the slot that hold cells
    first_token_at: float | None = None
    reason: str = "length"
    done: bool = False


def sequence_end(seq: Any) -> list[SeqDelta | SeqDone]:
    """The end of a sequence decoded token by token (here, or by the transformers backend's
    batch): the text its decoder and stop scanner still held, then its Completion."""
    out: list[SeqDelta | SeqDone] = []
    tail = seq.scanner.feed(seq.decoder.decode(b"", final=True)) + seq.scanner.flush()
    if tail:
        seq.emitted.append(tail)
        out.append(SeqDelta(seq.index, Delta(tail, None)))
    now = time.perf_counter()
    out.append(SeqDone(seq.index, Completion(
        text="".join(seq.emitted), stop_reason=seq.reason, completion_tokens=len(seq.generated),
        prompt_tokens=len(seq.tokens), prompt_tokens_evaluated=seq.evaluated, seconds=now - seq.start,
        confidences=tuple(seq.confidences), prompt_seconds=(seq.first_token_at or now) - seq.start,
    )))
    return out


class Slots:
    """The context's sequence slots and the cells each holds (slot 0 is `Llama`'s own)."""

    def __init__(self, llama_cpp: Any, llm: Any, n_slots: int) -> None:
        self.lib = llama_cpp
        self.llm = llm
        self.n_slots = n_slots
        self.held: list[list[int]] = [[] for _ in range(n_slots)]  # slots 1.. (slot 0 is read from llm)
        self._pieces: dict[int, bytes] = {}

    @property
    def memory(self) -> Any:
        return self.lib.llama_get_memory(self.llm.ctx)

    def content(self, slot: int) -> list[int]:
        """The tokens whose cells `slot` holds, in position order."""
        if slot == 0:
            return list(self.llm.input_ids[: self.llm.n_tokens])
        return self.held[slot]

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for (memoized)."""
        found = self._pieces.get(token)
        if found is None:
            found = self._pieces[token] = self.llm.detokenize([token], special=True)
        return found

    def tokens_for(self, prompt: bytes, adds_bos: bool) -> list[int]:
        """`prompt` as tokens, re-using the tokens of the slot whose text it extends furthest, so
        text the model generated keeps the tokens it was generated as."""
        best: list[int] = []
        best_offset = 0
        for slot in range(self.n_slots):
            matched, offset = 0, 0
            for token in self.content(slot):
                piece = self.piece(token)
                if not prompt.startswith(piece, offset):
                    break
                matched, offset = matched + 1, offset + len(piece)
            if matched > len(best):
                best, best_offset = self.content(slot)[:matched], offset
        rest = prompt[best_offset:]
        add_bos = not best and adds_bos
        return best + (self.llm.tokenize(rest, add_bos=add_bos, special=True) if rest or add_bos else [])

    def truncate_all(self, keep: int) -> None:
        """Note that the single-stream path removed every slot's cells from position `keep` on."""
        for slot in range(1, self.n_slots):
            del self.held[slot][keep:]

    def set_content(self, slot: int, tokens: list[int]) -> None:
        """Record what `slot` now holds (slot 0 updates `Llama`'s own bookkeeping)."""
        if slot == 0:
            self.llm.input_ids[: len(tokens)] = tokens
            self.llm.n_tokens = len(tokens)
        else:
            self.held[slot] = list(tokens)

    def clear(self, slot: int) -> None:
        """Drop every cell of `slot`."""
        self.lib.llama_memory_seq_rm(self.memory, slot, -1, -1)
        self.set_content(slot, [])

    def trim(self, slot: int, keep: int) -> None:
        """Drop the cells of `slot` from position `keep` on."""
        self.lib.llama_memory_seq_rm(self.memory, slot, keep, -1)
        self.set_content(slot, self.content(slot)[:keep])

    def copy(self, source: int, target: int, length: int) -> None:
        """Make `target` hold the first `length` cells of `source` (streams copy whole, then trim)."""
        self.clear(target)
        self.lib.llama_memory_seq_cp(self.memory, source, target, -1, -1)
        self.set_content(target, self.content(source))
        self.trim(target, length)


class LlamaBatch:
    """Sequences decoded together in the context's slots, continuously (see the module rules)."""

    def __init__(self, backend: Any) -> None:
        self.b = backend
        self.lib = backend._llama_cpp
        self.slots: Slots = backend._slots
        self.adds_bos = backend._adds_bos()
        self.sequences: list[_Live] = []
        self.waiting: list[tuple[int, Request]] = []  # requests added while every slot was busy
        self.added = 0
        self.batch = self.lib.llama_batch_init(self.slots.n_slots, 0, 1)

    @property
    def live(self) -> int:
        """How many sequences are still generating or waiting for a slot."""
        return self._running() + len(self.waiting)

    def _running(self) -> int:
        return sum(1 for seq in self.sequences if not seq.done)

    def add(self, request: Request) -> int:
        """Start the request in a slot (or queue it until one is free); return its index."""
        index, self.added = self.added, self.added + 1
        if self._running() >= self.slots.n_slots:
            self.waiting.append((index, request))
        else:
            self._start(index, request)
        return index

    def _start(self, index: int, request: Request) -> None:
        """Give the request a slot holding its prompt but the last token."""
        tokens = self.slots.tokens_for(request.prompt.encode("utf-8"), self.adds_bos)
        self._check_room(tokens, request)
        busy = {seq.slot for seq in self.sequences if not seq.done}
        head = tokens[:-1]
        source, length = self._best_source(head, busy)
        target = source if source not in busy and source not in self._reserved() else self._free_slot(busy)
        start = time.perf_counter()
        if target != source:
            self.slots.copy(source, target, length)
        self.slots.trim(target, length)
        self._decode_tail(target, head, length)
        seq = _Live(index, target, request, tokens, len(tokens) - length, self._sampler(request),
                    StopScanner(request.sampling.stop), start, pending=tokens[-1], decoded=len(tokens) - 1)
        self.sequences.append(seq)

    def step(self) -> list[SeqDelta | SeqDone]:
        """One llama_decode carrying the next token of every live sequence; what each wrote."""
        active = [seq for seq in self.sequences if not seq.done]
        for i, seq in enumerate(active):
            _put(self.batch, i, seq.pending, seq.decoded, seq.slot, logits=True)
        self.batch.n_tokens = len(active)
        self._decode(self.batch)
        out: list[SeqDelta | SeqDone] = []
        for i, seq in enumerate(active):
            seq.decoded += 1
            out += self._advance(seq, i)
        while self.waiting and self._running() < self.slots.n_slots:
            self._start(*self.waiting.pop(0))
        return out

    def close(self) -> None:
        """Free the batch and the samplers; record what every slot holds."""
        for seq in self.sequences:
            if seq.sampler is not None:
                self.lib.llama_sampler_free(seq.sampler)
                seq.sampler = None
            if not seq.done:
                self._settle(seq)
        if self.batch is not None:
            self.lib.llama_batch_free(self.batch)
            self.batch = None

    def _settle(self, seq: _Live) -> None:
        """Record the cells a sequence's slot holds once it stops."""
        self.slots.set_content(seq.slot, (seq.tokens + seq.generated)[: seq.decoded])

    def _reserved(self) -> set[int]:
        return {seq.slot for seq in self.sequences if not seq.done}

    def _check_room(self, tokens: list[int], request: Request) -> None:
        """Refuse a request its sequence's cells could not hold."""
        if len(tokens) + request.sampling.max_tokens > self.b.n_ctx:
            raise PonderError(f"a {len(tokens)}-token prompt and up to {request.sampling.max_tokens} new tokens "
                              f"do not fit --ctx {self.b.n_ctx}; raise --ctx")

    def _best_source(self, head: list[int], busy: set[int]) -> tuple[int, int]:
        """The slot whose cells share the longest prefix with `head` (a free one on a tie)."""
        best, best_len = 0, -1
        for slot in range(self.slots.n_slots):
            length = common_prefix(self.slots.content(slot), head)
            if length > best_len or (length == best_len and best in busy and slot not in busy):
                best, best_len = slot, length
        return best, best_len

    def _free_slot(self, busy: set[int]) -> int:
        free = [s for s in range(self.slots.n_slots) if s not in busy]
        return min(free, key=lambda s: len(self.slots.content(s)))

    def _decode_tail(self, slot: int, head: list[int], start: int) -> None:
        """Evaluate head[start:] into `slot`, in chunks of the context's batch size."""
        step = self.b.n_batch
        for begin in range(start, len(head), step):
            chunk = head[begin: begin + step]
            batch = self.lib.llama_batch_init(len(chunk), 0, 1)
            try:
                for i, token in enumerate(chunk):
                    _put(batch, i, token, begin + i, slot, logits=False)
                batch.n_tokens = len(chunk)
                self._decode(batch)
            finally:
                self.lib.llama_batch_free(batch)
            self.slots.set_content(slot, head[: begin + len(chunk)])

    def _sampler(self, request: Request) -> Any:
        lib, s = self.lib, request.sampling
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if s.grammar:
            grammar = lib.llama_sampler_init_grammar(self.b._vocab, s.grammar.encode("utf-8"), b"root")
            if not grammar:
                lib.llama_sampler_free(chain)
                raise PonderError("invalid grammar")
            lib.llama_sampler_chain_add(chain, grammar)
        if s.temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(s.top_k))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(s.top_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_min_p(s.min_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(s.temperature))
        seed = lib.LLAMA_DEFAULT_SEED if s.seed is None else s.seed & 0xFFFFFFFF
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(seed))
        return chain

    def _advance(self, seq: _Live, batch_index: int) -> list[SeqDelta | SeqDone]:
        """Sample the sequence's next token from its logits; its text; its end if it ended."""
        if seq.first_token_at is None:
            seq.first_token_at = time.perf_counter()
        token = self.lib.llama_sampler_sample(seq.sampler, self.b.llm.ctx, batch_index)
        if self.lib.llama_vocab_is_eog(self.b._vocab, token):
            seq.reason = "eos"
            return self._finish(seq)
        seq.generated.append(token)
        seq.pending = token
        confidence = self.b._top_probability(batch_index)
        seq.confidences.append(confidence)
        out: list[SeqDelta | SeqDone] = []
        text = seq.scanner.feed(seq.decoder.decode(self.slots.piece(token)))
        if text:
            seq.emitted.append(text)
            out.append(SeqDelta(seq.index, Delta(text, confidence)))
        if seq.scanner.stopped:
            seq.reason = "stop"
        if seq.scanner.stopped or len(seq.generated) >= seq.request.sampling.max_tokens:
            out += self._finish(seq)
        return out

    def _finish(self, seq: _Live) -> list[SeqDelta | SeqDone]:
        seq.done = True
        self._settle(seq)
        return sequence_end(seq)

    def _decode(self, batch: Any) -> None:
        status = self.lib.llama_decode(self.b.llm.ctx, batch)
        if status == 1:
            raise PonderError(f"the context is full (--ctx {self.b.n_ctx}); raise --ctx")
        if status != 0:
            raise PonderError(f"llama.cpp failed to decode a batch (status {status})")


def _put(batch: Any, i: int, token: int, position: int, slot: int, *, logits: bool) -> None:
    """Write one token into row `i` of a llama_batch."""
    batch.token[i] = token
    batch.pos[i] = position
    batch.n_seq_id[i] = 1
    batch.seq_id[i][0] = slot
    batch.logits[i] = 1 if logits else 0

