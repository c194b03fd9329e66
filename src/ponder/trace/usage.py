"""Totals of a run, derived from its events (never kept as separate state)."""

from __future__ import annotations

from typing import Any, Iterable

from ponder.trace.events import Event, RunStarted, StepFinished


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
    last = steps[-1] if steps else None
    end = max((s.ts for s in steps), default=0.0)
    return {
        "steps": len(steps),
        "completion_tokens": completion,
        "prompt_tokens_evaluated": evaluated,
        "transcript_tokens": (last.prompt_tokens + last.completion_tokens) if last else 0,
        "seconds": round(end - started[0].ts, 3) if started and steps else 0.0,
        "model_seconds": round(model_seconds, 3),
        "prompt_seconds": round(model_seconds - decode_seconds, 3),
        "tokens_per_second": round(completion / decode_seconds, 2) if decode_seconds > 0 else None,
        "mean_confidence": round(sum(c * n for c, n in weighted) / weight, 4) if weight else None,
    }
