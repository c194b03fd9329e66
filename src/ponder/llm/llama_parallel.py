"""Several sequences decoded together in one llama.cpp context: the lockstep loop behind
`LlamaBackend.stream_many`.

Rules that must hold:
- One context, one KV cache (unified, so a prefix's cells are shared by every sequence that
  holds it); slot 0 is the sequence the single-stream path (`Llama.generate`) uses, slots
  1..n_seq_max-1 belong to waves. A slot's token list mirrors exactly the cells it holds.
- Prefill re-uses what the cache holds: each request starts from the slot (or a slot this
  wave already filled) sharing its longest token prefix, copies those cells
  (`llama_memory_seq_cp`, which costs nothing) and evaluates only its own tail, so a prompt
  shared by n samples is evaluated once.
- Generation is one `llama_decode` per step carrying the next token of every live sequence;
  logits are read at each sequence's own batch index; each sequence has its own sampler
  chain (its own seed and grammar) and stops on its own stop string, end of generation or
  token budget.
- A wave that cannot fit the context is refused before anything is decoded (PonderError, one
  line); a decode that finds no KV slot is the same error, never a crash.
- As in the single-stream path, each prompt's last token is decoded with the first
  generation step, never in the prefill.
"""

from __future__ import annotations

import codecs
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from ponder.errors import PonderError
from ponder.llm.backend import Completion, Delta, Request, SeqDelta, SeqDone
from ponder.llm.stops import StopScanner

PARALLEL_SEQUENCES = 8  # slots of the context: the most sequences one wave decodes together


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
        """Make `target` hold the first `length` cells of `source` (shared, not duplicated)."""
        self.clear(target)
        self.lib.llama_memory_seq_cp(self.memory, source, target, 0, length)
        self.set_content(target, self.content(source)[:length])


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens `a` and `b` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class Wave:
    """One call of `stream_many`: prefill every request, then decode them in lockstep."""

    def __init__(self, backend: Any, requests: Sequence[Request]) -> None:
        self.b = backend
        self.lib = backend._llama_cpp
        self.slots: Slots = backend._slots
        self.requests = list(requests)
        adds_bos = backend._adds_bos()
        self.tokens = [self.slots.tokens_for(r.prompt.encode("utf-8"), adds_bos) for r in self.requests]

    def run(self) -> Iterator[SeqDelta | SeqDone]:
        """Stream every sequence's deltas as SeqDelta, each ending with a SeqDone."""
        self._check_room()
        live = self._prefill()
        batch = self.lib.llama_batch_init(len(live), 0, 1)
        try:
            yield from self._generate(live, batch)
        finally:
            self.lib.llama_batch_free(batch)
            for seq in live:
                self.lib.llama_sampler_free(seq.sampler)
                self.slots.set_content(seq.slot, (seq.tokens + seq.generated)[: seq.decoded])

    def _check_room(self) -> None:
        """Refuse a wave whose prompts and token budgets cannot all be held by the context."""
        if len(self.requests) > self.slots.n_slots:
            raise PonderError(f"a wave holds at most {self.slots.n_slots} sequences, not {len(self.requests)}")
        shared = len(self.tokens[0])
        for tokens in self.tokens[1:]:
            shared = min(shared, common_prefix(self.tokens[0], tokens))
        needed = shared + sum(len(t) - shared + r.sampling.max_tokens for t, r in zip(self.tokens, self.requests))
        if needed > self.b.n_ctx:
            per = max(r.sampling.max_tokens for r in self.requests)
            raise PonderError(f"{len(self.requests)} sequences of up to {per} new tokens after a "
                              f"{max(len(t) for t in self.tokens)}-token prompt need {needed} of --ctx "
                              f"{self.b.n_ctx} tokens; raise --ctx or sample fewer at once")

    def _prefill(self) -> list[_Live]:
        """Give each request a slot holding its prompt but the last token; return the live set."""
        claimed: dict[int, int] = {}  # slot -> request index
        live: list[_Live] = []
        start = time.perf_counter()
        for index, (request, tokens) in enumerate(zip(self.requests, self.tokens)):
            head = tokens[:-1]
            source, length = self._best_source(head, claimed)
            target = source if source not in claimed else self._free_slot(claimed)
            if target != source:
                self.slots.copy(source, target, length)
            self.slots.trim(target, length)
            self._decode_tail(target, head, length)
            claimed[target] = index
            live.append(_Live(index, target, request, tokens, len(tokens) - length, self._sampler(request),
                              StopScanner(request.sampling.stop), start, pending=tokens[-1],
                              decoded=len(tokens) - 1))
        for slot in range(1, self.slots.n_slots):
            if slot not in claimed and self.slots.content(slot):
                self.slots.clear(slot)  # stale cells would only crowd the cache
        return live

    def _best_source(self, head: list[int], claimed: dict[int, int]) -> tuple[int, int]:
        """The slot whose cells share the longest prefix with `head` (a free one on a tie)."""
        best, best_len = 0, -1
        for slot in range(self.slots.n_slots):
            length = common_prefix(self.slots.content(slot), head)
            if length > best_len or (length == best_len and best in claimed and slot not in claimed):
                best, best_len = slot, length
        return best, best_len

    def _free_slot(self, claimed: dict[int, int]) -> int:
        free = [s for s in range(self.slots.n_slots) if s not in claimed]
        if not free:
            raise PonderError(f"a wave holds at most {self.slots.n_slots} sequences")
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
        params = lib.llama_sampler_chain_default_params()
        chain = lib.llama_sampler_chain_init(params)
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

    def _generate(self, live: list[_Live], batch: Any) -> Iterator[SeqDelta | SeqDone]:
        while True:
            active = [seq for seq in live if not seq.done]
            if not active:
                return
            for i, seq in enumerate(active):
                position = len(seq.tokens) - 1 + len(seq.generated)
                _put(batch, i, seq.pending, position, seq.slot, logits=True)
            batch.n_tokens = len(active)
            self._decode(batch)
            for i, seq in enumerate(active):
                seq.decoded += 1
                yield from self._advance(seq, i)

    def _advance(self, seq: _Live, batch_index: int) -> Iterator[SeqDelta | SeqDone]:
        """Sample the sequence's next token from its logits; stream its text; stop it if done."""
        if seq.first_token_at is None:
            seq.first_token_at = time.perf_counter()
        token = self.lib.llama_sampler_sample(seq.sampler, self.b.llm.ctx, batch_index)
        if self.lib.llama_vocab_is_eog(self.b._vocab, token):
            seq.reason = "eos"
            yield from self._finish(seq)
            return
        seq.generated.append(token)
        seq.pending = token
        confidence = self.b._top_probability(batch_index)
        seq.confidences.append(confidence)
        text = seq.scanner.feed(seq.decoder.decode(self.slots.piece(token)))
        if text:
            seq.emitted.append(text)
            yield SeqDelta(seq.index, Delta(text, confidence))
        if seq.scanner.stopped:
            seq.reason = "stop"
        if seq.scanner.stopped or len(seq.generated) >= seq.request.sampling.max_tokens:
            yield from self._finish(seq)

    def _finish(self, seq: _Live) -> Iterator[SeqDelta | SeqDone]:
        seq.done = True
        tail = seq.scanner.feed(seq.decoder.decode(b"", final=True)) + seq.scanner.flush()
        if tail:
            seq.emitted.append(tail)
            yield SeqDelta(seq.index, Delta(tail, None))
        now = time.perf_counter()
        yield SeqDone(seq.index, Completion(
            text="".join(seq.emitted), stop_reason=seq.reason, completion_tokens=len(seq.generated),
            prompt_tokens=len(seq.tokens), prompt_tokens_evaluated=seq.evaluated, seconds=now - seq.start,
            confidences=tuple(seq.confidences), prompt_seconds=(seq.first_token_at or now) - seq.start,
        ))

    def _decode(self, batch: Any) -> None:
        status = self.lib.llama_decode(self.b.llm.ctx, batch)
        if status == 1:
            raise PonderError(f"the context is full (--ctx {self.b.n_ctx}); raise --ctx or sample fewer at once")
        if status != 0:
            raise PonderError(f"llama.cpp failed to decode a batch (status {status})")


def _put(batch: Any, i: int, token: int, position: int, slot: int, *, logits: bool) -> None:
    """Write one token into row `i` of a llama_batch."""
    batch.token[i] = token
    batch.pos[i] = position
    batch.n_seq_id[i] = 1
    batch.seq_id[i][0] = slot
    batch.logits[i] = 1 if logits else 0

