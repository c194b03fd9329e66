"""`ponder chat` on the fake model: the conversation as data, the session in-process, the
command as a process (stdin piped), and a real terminal (tmux) for keys and the prompt."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ponder.agent.settings import RunConfig
from ponder.cli.chat import Chat, write_whole
from ponder.cli.chat_input import Entry, PipedLines, TerminalLines, read_entry
from ponder.cli.conversation import Turn, best_answer, fit, to_markdown, with_context
from ponder.cli.options import Options, Output
from ponder.errors import UsageError
from ponder.llm.fake import FakeBackend, by_purpose
from ponder.llm.llama import LoadOptions
from ponder.thought_factors.catalogue import load_catalogue
from ponder.trace.events import Answer, RoundFinished, StepFinished
from tests.cli_helpers import PONDER, fake_script, ponder, signal_once_tracing
from tests.tmux import Terminal, need_tmux
from tests.unit import scripts

CATALOGUE = load_catalogue()
FIRST = "What is 16 - 3 - 4?"


class ListLines:
    """Lines from a list, as a pipe would give them."""

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        self.remembered: list[str] = []

    def line(self, more: bool = False) -> str | None:
        return self.lines.pop(0) if self.lines else None

    def remember(self, text: str) -> None:
        self.remembered.append(text)

    def close(self) -> None:
        pass


def chat_on_fake(tmp_path: Path, says=scripts.PASSING) -> tuple[Chat, FakeBackend]:
    backend = FakeBackend(handler=by_purpose({**scripts.ACCEPT, **says}))
    options = Options(model="fake", output=Output(reasoning="hide"), strategies=("chain",))
    return Chat(options, backend, tmp_path / "traces", terminal=False), backend


def traces(directory: Path) -> list[list[dict]]:
    """Every trace in a directory, oldest turn first, as records."""
    runs = [[json.loads(line) for line in path.read_text().splitlines()] for path in directory.glob("*.jsonl")]
    return sorted(runs, key=lambda records: records[0]["params"]["chat"]["turn"])


# -- the conversation as data ------------------------------------------------------------


def test_a_first_question_is_asked_as_typed():
    assert with_context(CATALOGUE, [], "q") == "q"
    stopped = Turn(1, "earlier", "interrupted", answer="7")
    assert with_context(CATALOGUE, [stopped], "q") == "q", "only finished answers are remembered"


def test_a_follow_up_carries_earlier_questions_and_answers_oldest_first():
    turns = [Turn(1, "What is 17 * 23?", "ok", answer="391"), Turn(2, "Add 9 to that.", "ok", answer="400")]
    asked = with_context(CATALOGUE, turns, "Halve it.")
    order = [asked.index(text) for text in ("17 * 23", "391", "Add 9", "400", "Halve it.")]
    assert order == sorted(order)


def test_fit_drops_the_oldest_turns_first():
    turns = [Turn(n, f"question {n}", "ok", answer=f"answer {n}") for n in (1, 2, 3)]
    assert fit(CATALOGUE, turns, "q", lambda text: True) == 0
    assert fit(CATALOGUE, turns, "q", lambda text: "answer 1" not in text) == 1
    assert fit(CATALOGUE, turns, "q", lambda text: "answer 3" not in text) == 3


def test_best_answer_is_the_latest_one_reached():
    assert best_answer([]) is None
    step = StepFinished("r", span="s1", factor="hypothesize", text="13 - 4 = 9.\nCandidate answer: 9",
                        stop_reason="stop", completion_tokens=1, prompt_tokens=1, prompt_tokens_evaluated=1, seconds=0.1)
    assert best_answer([step]) == "9"
    round_ = RoundFinished("r", span="s0", answer="11", normalized="11")
    assert best_answer([step, round_]) == "11"
    assert best_answer([round_, Answer("r", span="s2", text="x = 12", normalized="12", kind="number")]) == "12"


def test_a_saved_chat_holds_no_control_character_of_what_was_typed_or_answered():
    turns = [Turn(1, "q \x1b]52;c;aGk=\x07 \x1b[31mred", "ok", answer="9\x1b[0m"),
             Turn(2, "x", "error", error="bad \x9b31m")]
    text = to_markdown("S1", "fake\x07", turns)
    assert not any(ch in text for ch in "\x1b\x07\x9b") and "\\\\x1b\\]52" in text


def test_a_saved_chat_is_text_never_markdown_or_html():
    hostile = "Roses\n# Injected\n<script>alert(x)</script>\n[click](javascript:alert(x)) `code` ![i](u)"
    turns = [Turn(1, "<img src=x onerror=alert(1)> [l](http://e.example)", "ok", answer=hostile),
             Turn(2, "q", "error", error="</details><b>x</b>")]
    text = to_markdown("S1", "m` <script>alert(1)</script>", turns)
    body = "\n".join(line.removeprefix("> ") for line in text.splitlines())
    assert not re.search(r"(?<!\\)[<>\[\]`!]", body), text
    assert [line for line in text.splitlines() if line.startswith("#")] == ["# ponder chat", "## 1. \\<img src=x "
                                                                          "onerror=alert(1)\\> \\[l\\](http\\:\\/\\/e.example)",
                                                                          "## 2. q"]
    assert "\\<script\\>alert(x)\\</script\\>" in text and "**Answer:** Roses \\# Injected" in text


def test_markdown_quotes_each_question_and_says_what_it_got(tmp_path):
    turns = [Turn(1, "# not a heading\nsecond line", "ok", answer="9", strategy="chain", trace=tmp_path / "a.jsonl"),
             Turn(2, "long one", "interrupted", answer="4"), Turn(3, "bad", "error", error="the context is full")]
    text = to_markdown("S1", "fake", turns)
    assert "> \\# not a heading\n> second line" in text and "**Answer:** 9" in text
    assert "Best answer so far: 4" in text and "the context is full" in text and "session: S1" in text


# -- reading input ------------------------------------------------------------------------


def test_a_block_between_triple_quotes_is_one_question_never_a_command():
    lines = ListLines('"""', "/samples 3", "second line", '"""', '"""one line"""', "/samples 3", "  plain  ")
    assert read_entry(lines) == Entry("/samples 3\nsecond line", block=True)
    assert read_entry(lines) == Entry("one line", block=True)
    assert read_entry(lines) == Entry("/samples 3", command=True)
    assert read_entry(lines) == Entry("plain")
    assert read_entry(lines) is None


@pytest.mark.parametrize("bad", [b"second \xff line\"\"\"", b"x" * (300 * 1024) + b'"""'])
def test_a_bad_line_that_closes_its_block_still_closes_it(bad):
    import io

    from ponder.cli.chat_input import PipedLines

    lines = PipedLines(io.BytesIO(b'"""\nfirst line\n' + bad + b"\n/samples 3\nwhat is 2+2?\n"))
    with pytest.raises(UsageError, match="block it is in was not asked"):
        read_entry(lines)
    assert read_entry(lines) == Entry("/samples 3", command=True)
    assert read_entry(lines) == Entry("what is 2+2?")


def test_a_block_is_remembered_as_one_line_that_reads_back_as_the_same_question():
    lines = ListLines('"""', "Explain this:", "/reset", '"""', '"""/etc/hosts"""', "/samples 3")
    entries = [read_entry(lines) for _ in range(3)]
    history = [e.as_history() for e in entries]
    assert history == ['"""Explain this: /reset"""', '"""/etc/hosts"""', "/samples 3"]
    again = [read_entry(ListLines(line)) for line in history]
    assert [(e.text, e.command) for e in again] == [("Explain this: /reset", False), ("/etc/hosts", False),
                                                    ("/samples 3", True)]


def test_a_block_the_input_ends_inside_is_refused():
    with pytest.raises(UsageError, match="ended inside"):
        read_entry(ListLines('"""', "never closed"))


def test_a_block_past_the_question_limit_is_read_to_its_end_but_not_kept():
    from ponder.inputs import MAX_QUESTION_BYTES

    chunk = "x" * 1023
    lines = ListLines('"""', *[chunk] * (MAX_QUESTION_BYTES // 1024 + 2), '"""', "next")
    with pytest.raises(UsageError, match="larger than 256 KiB"):
        read_entry(lines)
    assert read_entry(lines) == Entry("next")


def test_a_bad_line_inside_a_block_drops_the_block_and_runs_none_of_its_lines():
    import io

    from ponder.cli.chat_input import PipedLines

    data = b'"""\nTranslate this:\ncaf\xe9 au lait\n/save! clobbered.md\n/strategy vote\n"""\nWhat is 17 * 23?\n'
    lines = PipedLines(io.BytesIO(data))
    with pytest.raises(UsageError, match='line 3 of stdin is not valid UTF-8.*block it is in was not asked'):
        read_entry(lines)
    assert read_entry(lines) == Entry("What is 17 * 23?")
    assert read_entry(lines) is None


def test_a_typed_byte_that_is_not_utf8_is_one_refused_line(monkeypatch, tmp_path):
    """A terminal byte 0xff arrives from input() as a lone surrogate; asking it crashed the chat."""
    monkeypatch.setattr("builtins.input", lambda prompt="": "abc\udcff")
    lines = TerminalLines(tmp_path / "history", ["help"])
    with pytest.raises(UsageError, match="not valid UTF-8"):
        lines.line()


def test_piped_lines_are_bounded_and_decoded(tmp_path):
    data = tmp_path / "in"
    data.write_bytes(b"first\r\n" + b"x" * 50 + b"\n\xff\xfe\nlast")
    with open(data, "rb") as stream:
        lines = PipedLines(stream, limit=20)
        assert lines.line() == "first"
        with pytest.raises(UsageError, match="line 2 of stdin is larger than"):
            lines.line()
        with pytest.raises(UsageError, match="line 3 of stdin is not valid UTF-8"):
            lines.line()
        assert lines.line() == "last"
        assert lines.line() is None


def test_terminal_history_is_written_bounded_to_the_data_dir(tmp_path):
    readline = pytest.importorskip("readline")
    readline.clear_history()
    history = tmp_path / "data" / "chat_history"
    lines = TerminalLines(history, ["help", "samples"])
    for n in range(3):
        lines.remember(f"question {n}")
    assert history.read_text().splitlines()[-3:] == ["question 0", "question 1", "question 2"]
    readline.set_history_length(2)
    lines.close()
    assert history.read_text().splitlines() == ["question 1", "question 2"]
    readline.clear_history()


def test_a_history_that_is_a_fifo_or_too_large_is_never_opened(tmp_path, monkeypatch):
    """readline opened a FIFO blocking, holding the interpreter (chat hung before its first
    prompt), and read a history of any size whole."""
    import os
    import subprocess
    import sys

    from ponder.cli import chat_input

    readline = pytest.importorskip("readline")
    fifo = tmp_path / "fifo_history"
    os.mkfifo(fifo)
    code = ("import sys; from ponder.cli.chat_input import TerminalLines\n"
            "lines = TerminalLines(__import__('pathlib').Path(sys.argv[1]), ['help'])\n"
            "lines.remember('a question'); print('done')\n")
    try:
        done = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("opening the history blocked on a FIFO")
    assert done.stdout == b"done\n", done.stderr
    monkeypatch.setattr(chat_input, "HISTORY_BYTES", 1000)
    big = tmp_path / "big_history"
    big.write_bytes(b"x\n" * 501)
    readline.clear_history()
    TerminalLines(big, ["help"])
    assert readline.get_current_history_length() == 0
    readline.clear_history()


# -- the session, in-process --------------------------------------------------------------


def test_a_follow_up_prompt_holds_the_first_answer_not_its_reasoning(tmp_path, capsys):
    chat, backend = chat_on_fake(tmp_path)
    assert chat.run(ListLines(FIRST, "And the square of that?")) == 0
    assert capsys.readouterr().out == "9\n9\n"
    first_call_of_second_run = [c for c in backend.calls if "And the square of that?" in c.prompt][0]
    assert f"Q: {FIRST}\nA: 9" in first_call_of_second_run.prompt
    user_turn = first_call_of_second_run.prompt.split("<|im_start|>user")[1]
    assert "13 - 4 = 9" not in user_turn, "the hidden reasoning stays out of the next question"
    first, second = traces(tmp_path / "traces")
    assert first[0]["params"]["chat"]["session"] == second[0]["params"]["chat"]["session"]
    assert second[0]["params"]["chat"] == {"session": chat.session, "turn": 2, "question": "And the square of that?"}


def test_turns_that_no_longer_fit_the_context_are_dropped_oldest_first_with_a_note(tmp_path, capsys):
    from ponder.cli.chat import count_tokens
    from ponder.thought_factors.prompt import chain_prompt

    chat, backend = chat_on_fake(tmp_path)
    chat.turns = [Turn(n, f"question {n}", "ok", answer=f"answer {n}") for n in (1, 2, 3)]
    needed = count_tokens(backend, chain_prompt(backend, CATALOGUE, with_context(CATALOGUE, chat.turns[1:], "q")))
    chat.options = replace(chat.options, load=LoadOptions(n_ctx=needed + chat.options.run.chain.max_tokens))
    asked = chat._with_context("q")
    assert "answer 2" in asked and "answer 3" in asked and "answer 1" not in asked
    assert capsys.readouterr().err.count("\n") == 1
    assert chat.first_seen == 1
    chat._with_context("q")
    assert capsys.readouterr().err == "", "a turn is dropped once, and the note said once"


def test_commands_change_the_next_questions_settings_and_bad_ones_change_nothing(tmp_path, capsys):
    chat, _ = chat_on_fake(tmp_path)
    lines = ListLines("/strategy vote", "/samples 3", "/budget 500", "/reasoning show", "/samples 0", "/samples x",
                      "/budget 10", "/strategy nope", "/reasoning loud", "/frobnicate now", "/save", "/view")
    assert chat.run(lines) == 0
    assert chat.options.strategy == "vote" and chat.options.run.samples == 3 == chat.options.run.budget.samples
    assert chat.options.run.budget.tokens == 500 and chat.options.output.reasoning == "show"
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 8, errors
    assert "--samples must be between 1 and 64" in errors[0]
    assert "below one chain's minimum" in errors[2] and "unknown strategy nope" in errors[3]
    assert "unknown command /frobnicate" in errors[5]
    chat.command("/budget off")
    assert chat.options.run.budget.tokens is None
    assert RunConfig(samples=65).problems() == ["--samples must be between 1 and 64"]


@pytest.mark.parametrize("command, error", [
    ("/budget 99999999999999999999999", "--budget-tokens must be at most 100,000,000"),
    ("/budget \u0661\u0660\u0660", "is not a whole number: /budget TOKENS (or off)"),
    ("/samples 1_0", "is not a whole number: /samples N"), ("/samples -3", "is not a whole number: /samples N")])
def test_a_chat_count_is_checked_as_its_flag_is(tmp_path, capsys, command, error):
    chat, _ = chat_on_fake(tmp_path)
    before = chat.options
    assert chat.run(ListLines(command)) == 0
    assert chat.options == before
    assert error in capsys.readouterr().err


def test_exit_leaves_before_the_next_line(tmp_path, capsys):
    chat, backend = chat_on_fake(tmp_path)
    assert chat.run(ListLines("/exit", FIRST)) == 0
    assert backend.calls == []


def test_reset_forgets_the_conversation_and_starts_a_new_session(tmp_path, capsys):
    chat, backend = chat_on_fake(tmp_path)
    chat.run(ListLines(FIRST, "/reset", "Again?"))
    last = [c for c in backend.calls if "Again?" in c.prompt][0]
    assert FIRST not in last.prompt
    sessions = {run[0]["params"]["chat"]["session"] for run in traces(tmp_path / "traces")}
    assert len(sessions) == 2


def test_save_writes_whole_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "s.md"
    write_whole(target, "one\n", overwrite=False)
    with pytest.raises(UsageError, match="exists; /save! "):
        write_whole(target, "two\n", overwrite=False)
    assert target.read_text() == "one\n"
    write_whole(target, "two\n", overwrite=True)
    assert target.read_text() == "two\n"
    with pytest.raises(UsageError, match="cannot write"):
        write_whole(tmp_path / "no" / "s.md", "x", overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.md"], "no temporary file is left"


# -- the command, as a process -------------------------------------------------------------


def test_save_to_a_home_that_cannot_be_expanded_is_one_line_and_the_chat_goes_on(tmp_path):
    spec = fake_script(tmp_path, scripts.PASSING)
    stdin = f"{FIRST}\n/save ~no_such_user_here/x.md\nAnd one more than that?\n"
    done = ponder("chat", "--strategy", "chain", "-m", spec, "--no-trace", stdin=stdin)
    assert b"Traceback" not in done.stderr and b"cannot expand '~no_such_user_here'" in done.stderr
    assert done.stdout == b"9\n9\n"


def test_bad_save_targets_and_counts_are_one_line_each_and_the_chat_goes_on(tmp_path):
    spec = fake_script(tmp_path, scripts.PASSING)
    (tmp_path / "dir").mkdir()
    long = tmp_path / ("n" * 250 + ".md")  # a legal name; its temporary file's must fit too
    stdin = (f"{FIRST}\n/save a\x00b.md\n/save {tmp_path / 'dir'}\n/save! {tmp_path / 'dir'}\n/samples {'9' * 5000}\n"
             f"/budget {'9' * 5000}\n/save {long}\nAnd one more than that?\n")
    done = ponder("chat", "--strategy", "chain", "-m", spec, "--no-trace", stdin=stdin)
    err = done.stderr.decode()
    assert done.returncode == 0 and "Traceback" not in err, err
    assert "cannot hold a NUL byte" in err and err.count("it is a directory") == 2 and err.count("is too large") == 2
    assert "exists; /save!" not in err and long.read_text().startswith("# ponder chat")
    assert done.stdout == b"9\n9\n"


def test_a_piped_answer_of_several_lines_is_one_line(tmp_path):
    spec = fake_script(tmp_path, {**scripts.PASSING, "answer": "old pond\nfrog jumps in\nsound of water"})
    done = ponder("chat", "--strategy", "chain", "--no-review", "-m", spec, "--no-trace", stdin="Write a haiku.\nAgain.\n")
    assert done.stdout == b"old pond\\x0afrog jumps in\\x0asound of water\n" * 2, done.stderr


def test_piped_questions_and_commands(tmp_path):
    spec = fake_script(tmp_path, scripts.PASSING)
    stdin = f"{FIRST}\n/strategy vote\n/samples 3\n/nonsense\n/save {tmp_path / 's.md'}\nAnd one more than that?\n"
    done = ponder("chat", "--strategy", "chain", "-m", spec, "--trace-dir", str(tmp_path / "t"), stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"9\n9\n", "stdout carries only the answers"
    err = done.stderr.decode()
    assert "ponder: error: unknown command /nonsense; /help lists the commands" in err
    assert ">>>" not in err and "Traceback" not in err
    first, second = traces(tmp_path / "t")
    assert first[0]["strategy"] == "chain" and second[0]["strategy"] == "vote"
    assert f"Q: {FIRST}\nA: 9" in second[0]["question"], "the follow-up was asked with the first answer"
    assert second[0]["params"]["samples"] == 3
    assert first[0]["params"]["chat"]["session"] == second[0]["params"]["chat"]["session"]
    saved = (tmp_path / "s.md").read_text()
    assert f"> {FIRST}" in saved and "**Answer:** 9" in saved and "And one more" not in saved


def test_a_question_without_an_answer_makes_a_pipe_exit_4(tmp_path):
    spec = fake_script(tmp_path, [""] * 20)
    done = ponder("chat", "--strategy", "chain", "-m", spec, "--no-trace", stdin="q\n/help\n")
    assert done.returncode == 4, done.stderr
    assert b"the model gave no answer" in done.stderr and b"/strategy NAME" in done.stderr


def test_a_line_that_is_not_utf8_is_one_line_and_the_chat_goes_on(tmp_path):
    spec = fake_script(tmp_path, scripts.PASSING)
    done = ponder("chat", "--strategy", "chain", "-m", spec, "--no-trace", stdin=b"\xff\xfe\nq\n")
    assert done.returncode == 4 and done.stdout == b"9\n"  # the line that could not be read went unanswered
    assert done.stderr.decode().count("\n") == 1 and b"not valid UTF-8" in done.stderr


def test_bad_flags_fail_before_the_model_loads(tmp_path):
    done = ponder("chat", "-m", str(tmp_path / "none.gguf"), "--strategy", "nope")
    assert done.returncode == 2 and done.stderr.count(b"\n") == 1


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_ends_a_piped_chat_with_the_trace_interrupted(tmp_path, signum, code):
    spec = fake_script(tmp_path, ["word " * 400] * 3, delay=0.01)
    proc = subprocess.Popen([*PONDER, "chat", "--strategy", "chain", "-m", spec, "--trace-dir", str(tmp_path / "t")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signum, signal.SIG_DFL))  # not as nohup left it
    assert proc.stdin is not None
    proc.stdin.write(b"q\nnever asked\n")
    proc.stdin.flush()
    signal_once_tracing(proc, (tmp_path / "t"), signum, settle=0.5)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    (trace,) = list((tmp_path / "t").iterdir())
    last = json.loads(trace.read_text().splitlines()[-1])
    assert last["type"] == "run_finished" and last["status"] == "interrupted"
    assert out == b"" and err.endswith(b"ponder: interrupted\n")


# -- a real terminal -----------------------------------------------------------------------


@pytest.fixture
def terminal(tmp_path):
    """`ponder chat` on a slow fake model in a tmux pane (skipped without tmux)."""
    need_tmux()
    spec = fake_script(tmp_path, scripts.PASSING, delay=0.03)
    env = {"PONDER_DATA_DIR": str(tmp_path / "data"), "TERM": "xterm-256color", "NO_COLOR": "1"}
    term = Terminal(tmp_path, [*PONDER, "chat", "--strategy", "chain", "-m", spec, "--trace-dir", str(tmp_path / "t")], env)
    yield term
    term.close()


def test_sigterm_while_the_viewer_is_open_gives_the_terminal_back(terminal, tmp_path):
    """The viewer was SIGKILLed, leaving the pane on the alternate screen with mouse reporting on."""
    import os

    terminal.prompt_ready(60)
    terminal.line(FIRST)
    terminal.wait_for(r"^9$", 60)
    terminal.prompt_ready(30)
    terminal.line("/view")
    terminal.wait_for(r"Expand all", 60)
    (chat,) = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p).endswith(
        f"chat --strategy chain -m {terminal_spec(tmp_path)} --trace-dir {tmp_path / 't'}")]
    os.kill(chat, signal.SIGTERM)
    assert terminal.wait_exit(30) == 143
    flags = terminal._tmux("display-message", "-p", "-t", "t", "#{alternate_on} #{mouse_any_flag}")
    assert flags.split() == ["0", "0"], "the alternate screen and mouse reporting are off again"


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def terminal_spec(tmp_path: Path) -> str:
    """The fake model spec the `terminal` fixture gave the chat."""
    return fake_script(tmp_path, scripts.PASSING, delay=0.03)


def test_in_a_terminal_questions_commands_ctrl_c_and_ctrl_d(terminal, tmp_path):
    terminal.prompt_ready(60)
    terminal.line(FIRST)
    terminal.wait_for(r"^9$", 60)
    terminal.prompt_ready(30)
    terminal.line("/view")  # the viewer takes the terminal, and gives it back on q
    terminal.wait_for(r"Expand all", 60)
    terminal.send("q")
    terminal.prompt_ready(30)
    terminal.line("/samples 2")
    terminal.wait_for(r"^ponder: samples 2$", 30)
    terminal.paste("Two lines,\none question?")
    terminal.send("Enter")
    terminal.wait(lambda s: [line.strip() for line in s.splitlines()].count("9") == 2, 60, "the second answer")
    terminal.prompt_ready(30)
    screen = terminal.screen()
    terminal.line("A question to stop")
    terminal.wait(lambda s: len(list((tmp_path / "t").glob("*.jsonl"))) == 3, 30, "the third run")
    time.sleep(1.0)
    terminal.send("C-c")
    terminal.wait_for(r"^ponder: stopped", 30, after=len(screen))
    terminal.prompt_ready(30)
    runs = traces(tmp_path / "t")
    assert [run[-1]["status"] for run in runs] == ["ok", "ok", "interrupted"]
    assert runs[1][0]["params"]["chat"]["question"] == "Two lines,\none question?", "a paste is one question"
    assert f"Q: {FIRST}\nA: 9" in runs[1][0]["question"]
    terminal.send("C-d")
    assert terminal.wait_exit(30) == 0
    history = (tmp_path / "data" / "chat_history").read_text()
    assert FIRST in history and "/samples 2" in history


def test_in_a_terminal_ctrl_c_at_the_prompt_after_stopping_a_run_leaves(terminal, tmp_path):
    terminal.prompt_ready(60)
    terminal.line(FIRST)
    terminal.wait(lambda s: any((tmp_path / "t").glob("*.jsonl")), 30, "the run")
    time.sleep(0.5)
    terminal.send("C-c")
    terminal.wait_for(r"^ponder: stopped", 30)
    terminal.prompt_ready(30)
    terminal.send("C-c")
    assert terminal.wait_exit(30) == 0


def test_in_a_terminal_ctrl_c_twice_at_the_prompt_leaves(terminal):
    terminal.prompt_ready(60)
    terminal.send("half a que", "C-c")
    terminal.wait_for(r"press Ctrl-C again", 30)
    terminal.prompt_ready(30)
    assert terminal.exit_status() is None
    terminal.send("C-c")
    assert terminal.wait_exit(30) == 0


# -- the viewer ----------------------------------------------------------------------------


def test_the_viewer_lists_a_sessions_turns_together_as_typed(tmp_path):
    from ponder.cli.viewer.app import run_row
    from ponder.cli.viewer.runs import filter_runs, scan
    from ponder.trace.events import RunFinished, RunStarted
    from ponder.trace.jsonl import TraceWriter

    def run(name: str, ts: float, asked: str, chat: dict | None = None) -> None:
        with TraceWriter(tmp_path / f"{name}.jsonl") as writer:
            writer.write(RunStarted(name, question=asked, model="fake", params={"chat": chat} if chat else {}, ts=ts))
            writer.write(RunFinished(name, status="ok", answer="9", ts=ts + 1))

    run("turn1", 100.0, "first", {"session": "S-abcdef", "turn": 1, "question": "first"})
    run("other", 200.0, "an ask in between")
    run("turn2", 300.0, "Earlier in this conversation: …",
        {"session": "S-abcdef", "turn": 2, "question": "and then?"})
    runs = scan(tmp_path)
    assert [r.run for r in runs] == ["turn2", "turn1", "other"]
    assert runs[0].question == "and then?" and runs[0].session == "S-abcdef" and runs[0].turn == 2
    assert run_row(runs[0])[1].plain == "abcdef #2" and run_row(runs[2])[1].plain == ""
    assert [r.run for r in filter_runs(runs, "s-abcdef")] == ["turn2", "turn1"]


def test_commands_without_arguments_refuse_one_and_reasoning_alone_shows_the_mode(tmp_path, capsys):
    chat, _ = chat_on_fake(tmp_path)
    for line in ("/exit now", "/reset now", "/view extra", "/help me"):
        with pytest.raises(UsageError, match="takes no argument"):
            chat.command(line)
    chat.command("/reasoning")
    assert capsys.readouterr().err.strip().endswith(f"reasoning {chat.options.output.reasoning}")
    assert chat.command("/exit") is True


def test_a_saved_questions_lines_start_no_heading_list_or_code_block():
    import markdown_it

    turns = [Turn(1, "Title\n===\nx\n---\n- a\n1. b\n    code\n-5 apples", "ok", answer="9")]
    html = markdown_it.MarkdownIt("gfm-like").render(to_markdown("S1", "fake", turns))
    quoted = html[html.index("<blockquote>"):html.index("</blockquote>")]
    assert not re.search(r"<h[1-6]>|<ul>|<ol>|<pre>|<hr", quoted), quoted
    assert "-5 apples" in quoted
