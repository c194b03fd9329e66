"""Accuracy against tokens per question, as a PNG (matplotlib, an optional extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_accuracy(report: dict[str, Any], path: Path) -> Path | None:
    """Draw one point per strategy with its 95% CI; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(figsize=(6, 4), dpi=120)
    for name, s in report["strategies"].items():
        tokens = s["mean_completion_tokens"] + s["mean_prompt_tokens_evaluated"]
        low, high = s["ci95"]
        axes.errorbar([tokens], [s["accuracy"]], yerr=[[s["accuracy"] - low], [high - s["accuracy"]]],
                      fmt="o", capsize=4, label=f"{name} (n={s['questions']})")
    axes.set_xlabel("tokens evaluated + generated per question")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1)
    axes.set_xlim(left=0)
    axes.set_title(f"ponder eval: {Path(report['dataset']).name}")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    tmp = path.with_suffix(".png.tmp")
    try:
        figure.savefig(tmp, format="png")
        tmp.replace(path)
    finally:
        plt.close(figure)
        tmp.unlink(missing_ok=True)  # a failed write leaves no half file behind
    return path
