"""Accuracy and cost of a set of result records, with a Wilson confidence interval."""

from __future__ import annotations

import math
from typing import Any, Iterable

from ponder.trace.events import as_float


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (0, 0 when there is no data)."""
    if total == 0:
        return (0.0, 0.0)
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy (with CI), mean tokens and seconds per question over graded records."""
    graded = [r for r in records if "correct" in r]
    n = len(graded)
    correct = sum(1 for r in graded if r["correct"] is True)
    low, high = wilson_interval(correct, n)

    def mean(key: str) -> float:
        values = [_finite(r.get("usage", {}).get(key)) for r in graded]
        return round(sum(values) / n, 2) if n else 0.0

    return {
        "questions": n,
        "correct": correct,
        "accuracy": round(correct / n, 4) if n else 0.0,
        "ci95": [round(low, 4), round(high, 4)],
        "errors": sum(1 for r in graded if r.get("status") != "ok"),
        "mean_completion_tokens": mean("completion_tokens"),
        "mean_prompt_tokens_evaluated": mean("prompt_tokens_evaluated"),
        "seconds_per_question": round(sum(_finite(r.get("seconds")) for r in graded) / n, 2) if n else 0.0,
    }


def _finite(value: object) -> float:
    """A number of a record as a float; 0 for a null, a non-finite number or anything else."""
    number = as_float(value)
    return number if number is not None and math.isfinite(number) else 0.0


def gsm8k_reference(answer: str) -> str:
    """The final answer of a GSM8K solution ('... #### 18' -> '18'); other text unchanged."""
    return answer.rsplit("####", 1)[1].strip() if "####" in answer else answer.strip()
