"""Progress of a batch on stderr, and the eval table on stdout (Rich).

Rule that must hold: the bar is animated only when stderr is a terminal; otherwise nothing
is drawn. Text from records (questions, answers) never reaches the terminal as markup or
control sequences.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table


class BatchProgress:
    """done/total, rate, ETA and running accuracy (when answers are known)."""

    def __init__(self, total: int) -> None:
        self.console = Console(stderr=True)
        self.correct = 0
        self.graded = 0
        self._progress: Progress | None = None
        if self.console.is_terminal and total:
            self._progress = Progress(
                TextColumn("[bold]ponder"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), TextColumn("{task.fields[accuracy]}"),
                console=self.console, transient=False,
            )
            self._task = self._progress.add_task("batch", total=total, rate="", accuracy="")
            self._progress.start()

    def advance(self, record: dict[str, Any]) -> None:
        """Count one finished record."""
        if "correct" in record:
            self.graded += 1
            self.correct += bool(record["correct"])
        if self._progress is None:
            return
        task = self._progress.tasks[0]
        elapsed = task.elapsed or 0.0
        rate = f"{(task.completed + 1) / elapsed * 60:.1f}/min" if elapsed else ""
        accuracy = f"acc {self.correct}/{self.graded}" if self.graded else ""
        self._progress.update(self._task, advance=1, rate=rate, accuracy=accuracy)

    def close(self) -> None:
        """Stop drawing."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def print_eval_table(report: dict[str, Any]) -> None:
    """The per-strategy table of an eval report, on stdout."""
    console = Console(highlight=False)
    if not console.is_terminal:  # piped: never truncate the numbers to fit 80 columns
        console = Console(highlight=False, width=160)
    table = Table(title=None if not console.is_terminal else "ponder eval")
    for column in ("strategy", "n", "accuracy", "95% CI", "completion tok/q", "prompt tok eval/q", "s/q", "errors"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for name, s in report["strategies"].items():
        low, high = s["ci95"]
        table.add_row(name, str(s["questions"]), f"{s['accuracy']:.1%}", f"{low:.1%}–{high:.1%}",
                      f"{s['mean_completion_tokens']:.0f}", f"{s['mean_prompt_tokens_evaluated']:.0f}",
                      f"{s['seconds_per_question']:.1f}", str(s["errors"]))
    console.print(table)
