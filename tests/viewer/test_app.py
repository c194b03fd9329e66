"""The viewer driven by Textual's pilot: navigate, expand, search, raw JSON, follow, bad files."""

from __future__ import annotations

import asyncio
import json
import shutil

from ponder.cli.viewer.app import PENDING, RunListScreen, RunScreen
from ponder.trace.events import TextDelta
from tests.viewer.helpers import DATA, pilot_test, REAL, SIZE, cursor, lines_of, record, screen_text, tree, viewer


@pilot_test
async def test_arrow_keys_move_through_rounds_steps_and_tool_calls():
    app = viewer(REAL)
    async with app.run_test(size=SIZE) as pilot:
        assert cursor(app) == "run"
        await pilot.press("down", "down")
        assert cursor(app) == "s2"
        assert "step 1. restate" in screen_text(app)
        await pilot.press("down", "down", "down", "space", "down")
        assert cursor(app) == "s6"  # the python call inside the first verify step
        text = screen_text(app)
        assert "tool call: python" in text and "bwrap" in text
        await pilot.press("up")
        assert cursor(app) == "s5"


@pilot_test
async def test_expand_all_shows_every_tool_call_and_collapse_all_hides_them():
    app = viewer(REAL)
    async with app.run_test(size=(100, 50)) as pilot:
        visible_tools = lambda: screen_text(app).count("python ok") + screen_text(app).count("sympy true")  # noqa: E731
        await pilot.pause()
        assert visible_tools() == 0
        await pilot.press("e")
        await pilot.pause()
        assert visible_tools() == 12
        await pilot.press("c")
        await pilot.pause()
        assert visible_tools() == 0 and cursor(app) == "run"
        assert "restate" not in screen_text(app).split("│")[0]


@pilot_test
async def test_every_step_of_the_real_trace_is_shown():
    app = viewer(REAL)
    async with app.run_test(size=(100, 50)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        for index, factor in enumerate(["restate", "decompose", "hypothesize", "verify", "correct",
                                        "verify", "correct", "verify", "answer"], start=1):
            assert f"{index}. {factor}" in text
        assert "★ 9. answer" in text and "→ 391" in text
        assert "Q What is 17 * 23?" in text and "A 391" in text and "9 steps · 350 tok" in text


@pilot_test
async def test_search_selects_the_matching_node_and_n_finds_the_next():
    app = viewer(REAL)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("slash", *"170 + 51 == 221", "enter")
        await pilot.pause()
        assert cursor(app) == "s5"  # the first verify step: its text holds the CHECK line
        await pilot.press("n")
        assert cursor(app) == "s9"  # the sympy call of that check, revealed inside its step
        assert tree(app).items["s5"].is_expanded
        await pilot.press("slash", *"no such words", "enter")
        await _until(pilot, lambda: "no match for 'no such words'" in screen_text(app))
        assert cursor(app) == "s9"


@pilot_test
async def test_raw_json_toggles_for_the_selected_node():
    app = viewer(REAL)
    async with app.run_test(size=(100, 50)) as pilot:
        await pilot.press("down", "down", "r")
        await pilot.pause()
        text = screen_text(app)
        assert '"type": "step_started"' in text and '"span": "s2"' in text
        await pilot.press("down")
        await pilot.pause()
        assert '"span": "s3"' in screen_text(app)
        await pilot.press("r")
        await pilot.pause()
        text = screen_text(app)
        assert '"type"' not in text and "step 2. decompose" in text


@pilot_test
async def test_follow_shows_steps_appended_while_it_runs(tmp_path):
    lines = lines_of(REAL)
    path = tmp_path / "live.jsonl"
    first_verify = next(i for i, line in enumerate(lines) if '"span":"s5"' in line)
    path.write_text("".join(lines[:first_verify]))
    app = viewer(path, follow=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "s5" not in tree(app).items and "following" in screen_text(app)
        rest = "".join(lines[first_verify:])
        cut = rest.index('"factor":"correct"')
        with open(path, "a", encoding="utf-8") as f:
            f.write(rest[:cut])  # ends inside a line: it must wait for the rest
        await _until(pilot, lambda: "s5" in tree(app).items)
        assert "s10" not in tree(app).items
        await _until(pilot, lambda: PENDING in screen_text(app))
        with open(path, "a", encoding="utf-8") as f:
            f.write(rest[cut:])
        await _until(pilot, lambda: "s22" in tree(app).items)
        text = screen_text(app)
        assert "★ 9. answer" in text and "A 391" in text and PENDING not in text


async def _until(pilot, condition, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the condition never held")


@pilot_test
async def test_a_running_trace_is_followed_without_the_flag(tmp_path):
    lines = lines_of(REAL)
    path = tmp_path / "running.jsonl"
    path.write_text("".join(lines[:3]))
    app = viewer(path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        with open(path, "a", encoding="utf-8") as f:
            f.write("".join(lines[3:20]))
        await _until(pilot, lambda: "s3" in tree(app).items)


@pilot_test
async def test_truncated_trace_opens_with_a_warning():
    app = viewer(DATA / "truncated.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "⚠" in text and "incomplete" in text
        assert "★ 9. answer" in text


@pilot_test
async def test_a_damaged_middle_line_is_a_warning(tmp_path):
    lines = lines_of(REAL)
    path = tmp_path / "damaged.jsonl"
    path.write_text("".join(lines[:5]) + "{not json\n" + "".join(lines[5:]))
    app = viewer(path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "⚠ line 6 is not JSON; skipped" in screen_text(app)


@pilot_test
async def test_a_file_that_is_not_a_trace_shows_a_message():
    app = viewer(DATA / "not_a_trace.csv")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down", "e", "r", "slash", "x", "enter")
        assert "not a ponder trace" in screen_text(app)
        assert app.is_running


@pilot_test
async def test_unknown_event_types_are_shown_generically(tmp_path):
    lines = lines_of(REAL)
    extra = [record(type="candidate_scored", run="r", ts=1795239700.0, span="c1", parent="s1", score=0.75, votes=3),
             record(type="hologram", run="r", ts=1795239701.0, shimmer="[bold red]loud[/]")]
    path = tmp_path / "future.jsonl"
    path.write_text("".join(lines[:-2] + extra + lines[-2:]))
    app = viewer(path)
    async with app.run_test(size=(100, 50)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "? candidate_scored" in text and "? hologram" in text
        tree(app).reveal("c1")
        await pilot.pause()
        assert "score: 0.75" in screen_text(app) and "votes: 3" in screen_text(app)
        tree(app).reveal(0)  # the first event kept on the run
        await pilot.pause()
        assert "shimmer: [bold red]loud[/]" in screen_text(app)


@pilot_test
async def test_model_text_is_never_markup(tmp_path):
    lines = lines_of(REAL)
    hostile = "[bold red]not markup[/] [link=http://x]x[/link] \x1b[31mred"
    step = [record(type="step_started", run="r", ts=1795239700.0, span="h1", parent="s1", factor="[b]hyp[/b]", index=10),
            record(type="step_finished", run="r", ts=1795239701.0, span="h1", factor="[b]hyp[/b]", text=hostile,
                   stop_reason="stop", completion_tokens=3, prompt_tokens=9, prompt_tokens_evaluated=1, seconds=0.1,
                   observation=hostile)]
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(lines[:-2] + step + lines[-2:]))
    app = viewer(path)
    async with app.run_test(size=(120, 50)) as pilot:
        tree(app).reveal("h1")
        await pilot.pause()
        text = screen_text(app)
        assert "10. [b]hyp[/b]" in text
        assert "[bold red]not markup[/]" in text and "\\x1b[31mred" in text
        assert "\x1b" not in text


@pilot_test
async def test_a_step_of_many_lines_is_shown_as_plain_text_not_thousands_of_markdown_blocks(tmp_path):
    from textual.widgets import Markdown, Static

    from ponder.cli.viewer.app import MARKDOWN_LINES

    lines = lines_of(REAL)
    items = "- **x**\n" * (MARKDOWN_LINES * 15)
    step = [record(type="step_started", run="r", ts=1795239700.0, span="h1", parent="s1", factor="hypothesize", index=10),
            record(type="step_finished", run="r", ts=1795239701.0, span="h1", factor="hypothesize", text=items,
                   stop_reason="stop", completion_tokens=3, prompt_tokens=9, prompt_tokens_evaluated=1, seconds=0.1)]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(lines[:-2] + step + lines[-2:]))
    app = viewer(path)
    async with app.run_test(size=(120, 50)) as pilot:
        tree(app).reveal("h1")
        await asyncio.wait_for(pilot.pause(), 20)
        plain, markdown = app.screen.query_one("#plain", Static), app.screen.query_one("#text", Markdown)
        assert plain.display and not markdown.display
        assert "- **x**" in screen_text(app)  # as written: no Markdown was parsed


@pilot_test
async def test_stdin_bytes_open_like_a_file():
    app = viewer(data=REAL.read_bytes())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "A 391" in screen_text(app) and "s22" in tree(app).items


@pilot_test
async def test_run_list_filters_and_opens_a_run(tmp_path):
    shutil.copy(REAL, tmp_path / "a.jsonl")
    other = [json.loads(line) for line in lines_of(REAL)]
    other[0]["question"] = "How many legs has a spider?"
    other[0]["ts"] += 60
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in other))
    app = viewer(tmp_path)
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, RunListScreen)
        text = screen_text(app)
        assert text.index("How many legs") < text.index("What is 17 * 23?")  # newest first
        await pilot.press("slash", *"17 * 23", "enter")
        await pilot.pause()
        assert "How many legs" not in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RunScreen) and app.screen.target.path == tmp_path / "a.jsonl"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RunListScreen)


@pilot_test
async def test_export_key_writes_markdown(tmp_path):
    app = viewer(REAL, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("x")
        await pilot.pause()
    written = (tmp_path / "real_17x23.md").read_text()
    assert written.startswith("# ponder run ") and "391" in written


@pilot_test
async def test_export_key_never_overwrites_and_never_waits_on_a_fifo(tmp_path):
    import os

    (tmp_path / "real_17x23.md").write_text("mine")
    app = viewer(REAL, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("x")
        await pilot.pause()
    assert (tmp_path / "real_17x23.md").read_text() == "mine"
    fifo_dir = tmp_path / "f"
    fifo_dir.mkdir()
    os.mkfifo(fifo_dir / "real_17x23.md")
    app = viewer(REAL, export_dir=fifo_dir)
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.wait_for(pilot.press("x"), 10)
        await pilot.pause()
        assert app.is_running


def test_step_text_keeps_links_as_text_and_long_values_are_cut():
    from ponder.cli.viewer.app import SHOWN_CHARS, cut, text_parser

    html = text_parser().render("see [md](http://evil.example/) ![i](x) <b>x</b> https://x.y **b**")
    assert "<a " not in html and "<img" not in html and "http://evil.example/" in html and "<strong>b</strong>" in html
    assert "[ref]: http://hidden.example" in text_parser().render("see [ref]\n\n[ref]: http://hidden.example\n")
    shown = cut("x" * (SHOWN_CHARS + 5))
    assert shown.startswith("x" * SHOWN_CHARS) and "5 more characters" in shown and len(shown) < SHOWN_CHARS + 100


@pilot_test
async def test_quit_key_exits():
    app = viewer(REAL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await asyncio.sleep(0.05)
        assert not app.is_running


ESCAPE = "\x1b]0;TITLE\x07\x1b[31m"


@pilot_test
async def test_escapes_in_any_field_of_any_type_are_shown_as_text(tmp_path):
    lines = lines_of(REAL)
    finished = {**json.loads(lines[-1]), "status": ESCAPE,
                "usage": {"steps": ESCAPE, "completion_tokens": [ESCAPE], "seconds": {"s": ESCAPE}}}
    path = tmp_path / "escape.jsonl"
    path.write_text("".join(lines[:-1]) + json.dumps(finished) + "\n")
    app = viewer(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "\x1b" not in text and "\x07" not in text
        assert "A 391   \\x1b]0;TITLE\\x07\\x1b[31m" in text  # the status
        assert "\\x1b]0;TITL… steps" in text and "[\"\\u001b]0;… tok" in text  # usage, cut to fit


@pilot_test
async def test_malformed_events_are_warnings_and_the_app_keeps_running(tmp_path):
    lines = lines_of(REAL)
    records = [json.loads(line) for line in lines]
    next(r for r in records if r["type"] == "step_finished")["text"] = None
    for r in records:
        if r["type"] == "text_delta" and r["span"] == "s3":
            r["text"] = {"not": "text"}
    path = tmp_path / "damaged.jsonl"
    path.write_text(lines[0] + "[" * 100_000 + "]" * 100_000 + "\n" + "".join(json.dumps(r) + "\n" for r in records[1:]))
    app = viewer(path)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press("e", "down", "down", "r", "r", "down", "slash", *"text", "enter", "n", "n")
        await pilot.pause()
        text = screen_text(app)
        assert app.is_running and "more" in text and "★ 9. answer" in text


@pilot_test
async def test_a_file_with_nothing_to_show_is_a_message(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    app = viewer(path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "not a ponder trace" in screen_text(app) and app.is_running


@pilot_test
async def test_broken_files_in_the_run_list_are_listed_and_open_as_messages(tmp_path):
    shutil.copy(REAL, tmp_path / "good.jsonl")
    first = json.loads(lines_of(REAL)[0])
    (tmp_path / "deep.jsonl").write_text("[" * 5000 + "]" * 5000 + "\n")
    (tmp_path / "typed.jsonl").write_text(json.dumps({**first, "ts": "yesterday", "question": None}) + "\n")
    (tmp_path / "far.jsonl").write_text(json.dumps({**first, "ts": 1e300, "question": ESCAPE}) + "\n")
    app = viewer(tmp_path)
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "What is 17 * 23?" in text and text.count("invalid") == 2 and "\\x1b]0;TITLE" in text
        for _ in range(4):
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, RunScreen) and "\x1b" not in screen_text(app)
            await pilot.press("escape", "down")
            await pilot.pause()
        assert app.is_running


@pilot_test
async def test_follow_folds_appended_deltas_into_the_same_tree(tmp_path):
    lines = lines_of(REAL)
    path = tmp_path / "live.jsonl"
    path.write_text("".join(lines[:3]))
    app = viewer(path, follow=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        step = screen.folding.nodes["s2"]
        with open(path, "a", encoding="utf-8") as f:
            f.write("".join(record(type="text_delta", run="r", ts=2.0, span="s2", text=f"w{i} ") for i in range(50)))
        await _until(pilot, lambda: "w49" in step.text)
        assert screen.folding.nodes["s2"] is step  # folded into the tree it had, not rebuilt
        assert all(not isinstance(e, TextDelta) for e in screen.kept)
