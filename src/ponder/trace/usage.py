"""Totals of a run, derived from its events (never kept as separate state).

Rules that must hold:
- Every model call is a step (StepFinished), so every token a run spends is counted here,
  the review and judge calls included.
- A context is one transcript: the steps of a chain under one round, one fresh-context
  step (review, judge), or one path of a search tree to its leaf (a step no other extends). `transcript_tokens_total` sums the final length of every context;
  `prompt_tokens_evaluated` is what the backend really evaluated; `prompt_tokens_total` is
  what it would have evaluated with no KV re-use at all (every call's prompt: a review makes two).
- A search (beam, mcts) also reports `search_tree_tokens`: the unique tokens of its tree
  (the prompt once, plus what each node added), from its SearchNode events; else None.
"""

from __future__ import annotations

from typing import Any, Iterable

from ponder.trace.events import Event, RoundStarted, RunStarted, SearchNode, StepFinished, StepStarted

FRESH_CONTEXT_FACTORS = frozenset({"review", "judge"})


def summarize(events: Iterable[Event]) -> dict[str, Any]:
    """Token, time and confidence totals over the steps of a run."""
    events = list(events)
    steps = [e for e in events if isinstance(e, StepFinished)]
    started = [e for e in events if isinstance(e, RunStarted)]
    completion = sum(s.completion_tokens for s in steps)
    evaluated = sum(s.prompt_tokens_evaluated for s in steps)
    model_seconds = sum(s.seconds for s in steps)
    decode_seconds = sum(s.seconds - s.prompt_seconds for s in steps)
    weighted = [(s.confidence, s.completion_tokens) for s in steps if s.confidence is not None]
    weight = sum(n for _, n in weighted)
    nodes = [e for e in events if isinstance(e, SearchNode)]
    last = steps[-1] if steps else None
    end = max((s.ts for s in steps), default=0.0)
    return {
        "steps": len(steps),
        "completion_tokens": completion,
        "prompt_tokens_evaluated": evaluated,
        "transcript_tokens": (last.prompt_tokens + last.completion_tokens) if last else 0,
        "transcript_tokens_total": sum(s.prompt_tokens + s.completion_tokens for s in _context_ends(events)),
        "prompt_tokens_total": sum(_prompt_sent(s) for s in steps),
        "search_tree_tokens": sum(n.tokens for n in nodes) if nodes else None,
        "rounds": sum(1 for e in events if isinstance(e, RoundStarted)),
        "seconds": round(end - started[0].ts, 3) if started and steps else 0.0,
        "model_seconds": round(model_seconds, 3),
        "prompt_seconds": round(model_seconds - decode_seconds, 3),
        "tokens_per_second": round(completion / decode_seconds, 2) if decode_seconds > 0 else None,
        "mean_confidence": round(sum(c * n for c, n in weighted) / weight, 4) if weight else None,
    }


def _prompt_sent(step: StepFinished) -> int:
    """Every prompt a step's calls sent (a review sends two; older traces recorded only the last)."""
    return step.prompt_tokens if step.prompt_tokens_sent is None else step.prompt_tokens_sent


def _context_ends(events: list[Event]) -> list[StepFinished]:
    """The last step of every context: of a chain's round, one fresh-context step, or a leaf of
    a search tree (whose steps hang off the step they extend: each path is one transcript)."""
    parents = {e.span: (e.parent, e.factor) for e in events if isinstance(e, StepStarted)}
    extended = {parent for parent, _ in parents.values() if parent in parents}
    searched = {parents[span][0] for span in extended}  # a round whose steps others extend is a search's
    ends: dict[str, StepFinished] = {}
    for event in events:
        if not isinstance(event, StepFinished):
            continue
        parent, factor = parents.get(event.span, ("", event.factor))
        if factor in FRESH_CONTEXT_FACTORS:
            ends[event.span] = event
        elif event.span not in extended:  # a search step that another extends ends no context
            ends[event.span if parent in parents or parent in searched else parent] = event
    return list(ends.values())
