"""Accuracy against tokens per question, as a PNG (matplotlib, an optional extra).

Rules that must hold: text in the figure is drawn as written, never read as mathtext (a file
named "cost_$5_vs_$.jsonl" is no formula) and never holds a lone surrogate (a file name's
undecodable bytes); the PNG is written whole (`files.write_whole`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ponder.cli.files import write_whole
from ponder.inputs import well_formed


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
                      fmt="o", capsize=4, label=well_formed(f"{name} (n={s['questions']})"))
    axes.set_xlabel("tokens evaluated + generated per question")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1)
    axes.set_xlim(left=0)
    axes.set_title(well_formed(f"ponder eval: {Path(report['dataset']).name}"), parse_math=False)
    axes.grid(alpha=0.3)
    for text in axes.legend(loc="lower right").get_texts():
        text.set_parse_math(False)
    figure.tight_layout()
    drawn = io.BytesIO()
    try:
        figure.savefig(drawn, format="png")
    finally:
        plt.close(figure)
    write_whole(path, drawn.getvalue())
    return path

