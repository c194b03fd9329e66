"""The reasoning view on stderr: steps side by side in a wave each get their own live line."""

import io

from ponder.cli.render import ReasoningView
from ponder.trace.events import RoundStarted, StepFinished, StepStarted, TextDelta


def test_steps_decoded_side_by_side_show_one_line_each_with_their_answer_so_far():
    view = ReasoningView("collapse", io.StringIO())
    for index, span in ((1, "r1"), (2, "r2")):
        view.handle(RoundStarted("run", span=span, parent="run", index=index))
        view.handle(StepStarted("run", span=f"{span}-h", parent=span, factor="hypothesize", index=1))
    view.handle(TextDelta("run", span="r1-h", text="6 * 7 = 42.\nCandidate answer: 42"))
    view.handle(TextDelta("run", span="r2-h", text="\x1b[31mthinking"))
    lines = view._current().plain.splitlines()
    assert len(lines) == 2
    assert "r1" in lines[0] and "hypothesize" in lines[0] and "→ 42" in lines[0]
    assert "r2" in lines[1] and "\x1b" not in lines[1] and "thinking" in lines[1]
    view.handle(StepFinished("run", span="r1-h", factor="hypothesize", text="done", stop_reason="stop",
                             completion_tokens=5, prompt_tokens=1, prompt_tokens_evaluated=1, seconds=0.1))
    assert "thinking" in view._current().plain and "42" not in view._current().plain  # r2 alone, in full


def test_a_long_line_in_progress_takes_one_row_of_the_live_region():
    from rich.console import Console

    view = ReasoningView("collapse", io.StringIO())
    view.handle(StepStarted("run", span="h", parent="run", factor="hypothesize", index=1))
    view.handle(TextDelta("run", span="h", text="short\n" + "x" * 5000))
    console = Console(file=io.StringIO(), width=80, height=30)
    rows = console.render_lines(view._current(), console.options)
    assert len(rows) == 3
