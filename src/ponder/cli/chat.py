"""`ponder chat`: an interactive session, as `llm chat` and `ollama run` are.

Rules that must hold:
- The trace directory is checked, then the model loads, once per session. Every question is
  a run of its own through `ask.run_question` (the same reasoning view, trace and Ctrl-C
  handling as `ask`); its RunStarted params hold `chat`: the session id, the turn's number
  and the question as typed, by which `ponder view` groups a session's turns.
- A follow-up is asked with the conversation so far (`conversation.with_context`) within
  --ctx: the prompt (by the backend's tokenizer, else 4 characters a token) plus --max-tokens
  must fit; the oldest turns that do not are left out, with a one-line note, from then on.
- A line starting with "/" is a command. Settings change for the next questions only, each
  value checked as the flags are (the strategy registry, `RunConfig.problems()`); a bad value
  or an unknown command is one line and changes nothing.
- stdout carries only answers; notes and errors go to stderr, one line each. Untrusted text
  (answers, echoed input) is shown through `visible()`.
- On a terminal, Ctrl-C stops the run (its trace closed as `interrupted`, the best answer so
  far shown) and returns to the prompt; a Ctrl-C at the prompt right after that, or two in a
  row there, Ctrl-D or /exit leave with exit 0. A run that fails is one line; the session goes on.
- When stdin is not a terminal, lines are questions and commands, with no prompt, banner or
  history; Ctrl-C ends the session as it ends `ask` (exit 130), and the exit code is 4 when a
  question got no answer. SIGTERM (or SIGHUP) always ends the session (exit 143, 129).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from ponder import interrupts
from ponder.cli.ask import load_model, run_question, shown_answer, trace_directory, was_interrupted
from ponder.cli.chat_input import QUOTES, Entry, Lines, PipedLines, TerminalLines, is_terminal, read_entry
from ponder.cli.conversation import Turn, best_answer, fit, to_markdown, with_context
from ponder.cli.options import Options, check_strategies
from ponder.cli.safe import one_line, visible
from ponder.cli.streams import StdoutError, print_line
from ponder.errors import EXIT_BATCH_FAILED, EXIT_INTERRUPTED, EXIT_OK, PonderError, UsageError
from ponder.inputs import MAX_QUESTION_BYTES, stdin_bytes
from ponder.interrupts import EXIT_SIGINT, Terminated, exit_code
from ponder.thought_factors.prompt import chain_prompt
from ponder.trace.events import RunFinished
from ponder.agent.engine.scaffold import NO_ANSWER_ERROR

REASONING_MODES = ("show", "collapse", "hide")
LEAVE, STOPPED = "leave", "stopped"

# name -> (argument, what it does): the order of /help.
COMMANDS: dict[str, tuple[str, str]] = {
    "strategy": ("NAME", "think with another strategy (`ponder strategies` lists them)"),
    "samples": ("N", "chains of vote and best-of-n, rollouts of mcts"),
    "reasoning": ("show|collapse|hide", "how much of the thinking to show"),
    "budget": ("TOKENS|off", "most completion tokens of each question"),
    "view": ("", "open the last question's trace in `ponder view`"),
    "save": ("FILE", "save the conversation as Markdown (/save! FILE overwrites)"),
    "reset": ("", "forget the conversation; the settings stay"),
    "help": ("", "list the commands and keys"),
    "exit": ("", "leave (as Ctrl-D does)"),
}
KEYS = (
    "Ctrl-C stops the thinking; Ctrl-C again at the prompt, Ctrl-D or /exit leaves.",
    "Up/Down recall earlier questions (kept across sessions); Tab completes a command.",
    f'A paste of several lines is one question; so are the lines between {QUOTES} and {QUOTES}.',
)


def run_chat(options: Options) -> int:
    """Run `ponder chat`; return the exit code."""
    from ponder import paths

    directory = trace_directory(options)
    terminal = is_terminal(sys.stdin)
    if terminal:
        _note("loading the model…")
    # /strategy may switch to one that decodes side by side: room for --parallel sequences from the start
    options = replace(options, load=replace(options.load, sequences=options.run.parallel))
    backend = load_model(options)
    chat = Chat(options, backend, directory, terminal)
    lines: Lines = (TerminalLines(paths.data_dir() / "chat_history", [*COMMANDS, "quit"]) if terminal
                    else PipedLines(stdin_bytes()))
    try:
        return chat.run(lines)
    finally:
        lines.close()


class Chat:
    """A session: the loaded backend, the settings, the conversation so far."""

    def __init__(self, options: Options, backend: Any, directory: Path | None, terminal: bool) -> None:
        from ponder.agent.engine.ids import new_run_id
        from ponder.thought_factors.catalogue import load_catalogue

        self.options = options
        self.backend = backend
        self.directory = directory
        self.terminal = terminal
        self.catalogue = load_catalogue()
        self.session = new_run_id()
        self.turns: list[Turn] = []
        self.first_seen = 0  # the oldest turn a follow-up still sees
        self.last_trace: Path | None = None
        self.unanswered = 0
        self.model = str(getattr(backend, "name", "model"))

    def run(self, lines: Lines) -> int:
        """Read and answer until the input ends or the user leaves; return the exit code."""
        if self.terminal:
            _note(f"chat with {one_line(self.model)} ({self.options.strategy}); /help lists the commands, Ctrl-D leaves")
        armed = False  # a Ctrl-C at the prompt now leaves
        while True:
            entry = None
            try:
                entry = read_entry(lines)
                if entry is None:
                    return self._exit_code()
                lines.remember(entry.as_history())
                outcome = self._handle(entry)
            except UsageError as exc:
                _error(str(exc))
                if not self.terminal and (entry is None or not entry.command):
                    self.unanswered += 1  # a question line that could not be read or asked: exit 4
                armed = False
                continue
            except KeyboardInterrupt as exc:
                if isinstance(exc, Terminated) or not self.terminal or armed:
                    return _interrupt_code(exc, self.terminal)
                sys.stderr.write("\n")  # stdout carries only answers
                _note("press Ctrl-C again or Ctrl-D to leave")
                armed = True
                continue
            if outcome == LEAVE:
                return self._exit_code()
            armed = outcome == STOPPED

    def _handle(self, entry: Entry) -> str:
        """Run a command or ask a question: LEAVE, STOPPED (Ctrl-C stopped the run) or ''."""
        if entry.command:
            return LEAVE if self.command(entry.text) else ""
        return self.ask(entry.text) if entry.text else ""

    # -- questions ------------------------------------------------------------------------

    def ask(self, question: str) -> str:
        """Answer one question as a turn of the conversation: STOPPED when Ctrl-C stopped it, else ''."""
        from ponder.agent.engine.ids import new_run_id

        if len(question.encode("utf-8")) > MAX_QUESTION_BYTES:
            raise UsageError(f"the question is larger than {MAX_QUESTION_BYTES // 1024} KiB")
        if "\x00" in question:
            raise UsageError("the question contains NUL bytes")
        run_id, number = new_run_id(), len(self.turns) + 1
        path = self.directory / f"{run_id}.jsonl" if self.directory else None
        turn = Turn(number, question, "error", strategy=self.options.strategy, trace=path)
        try:
            asked = self._with_context(question)  # may ask a server to count tokens: it may fail too
            events = run_question(self.backend, asked, self.options, run_id, path,
                                  params={"chat": {"session": self.session, "turn": number, "question": question}})
        except StdoutError:
            raise
        except PonderError as exc:
            self._keep(replace(turn, error=str(exc)))
            self._forget()
            _error(str(exc))
            return ""
        if was_interrupted(events):
            return self._interrupted(replace(turn, status="interrupted", answer=best_answer(events)))
        finished = events[-1]
        answer = (shown_answer(events) or None) if isinstance(finished, RunFinished) else None
        self._keep(replace(turn, status="ok" if answer else "no answer", answer=answer))
        if answer:  # piped, one line each: a haiku's line breaks are written \x0a
            print_line(visible(answer) if self.terminal else one_line(answer))
        else:
            _error(NO_ANSWER_ERROR)
        return ""

    def _with_context(self, question: str) -> str:
        """The question with the conversation that still fits; a note when older turns drop out."""
        room = self.options.load.n_ctx - self.options.run.chain.max_tokens

        def fits(text: str) -> bool:
            return count_tokens(self.backend, chain_prompt(self.backend, self.catalogue, text)) <= room

        seen = self.turns[self.first_seen:]
        dropped = fit(self.catalogue, seen, question, fits) if any(t.remembered for t in seen) else 0
        if dropped:
            first, last = seen[0].number, seen[dropped - 1].number
            which = f"turn {first}" if first == last else f"turns {first}-{last}"
            _note(f"{which} no longer fit --ctx {self.options.load.n_ctx}; the conversation goes on without them")
            self.first_seen += dropped
        return with_context(self.catalogue, self.turns[self.first_seen:], question)

    def _interrupted(self, turn: Turn) -> str:
        """Keep a stopped turn; on a terminal show its best answer so far, else end the session."""
        self._keep(turn)
        self._forget()
        if exit_code() != EXIT_SIGINT:
            raise Terminated(exit_code() - 128)
        if not self.terminal:
            raise KeyboardInterrupt()
        best = f"; best answer so far: {one_line(turn.answer)}" if turn.answer else ""
        _note(f"stopped{best}")
        return STOPPED

    def _keep(self, turn: Turn) -> None:
        if turn.trace is not None and not turn.trace.exists():  # a run that wrote no line leaves no trace
            turn = replace(turn, trace=None)
        self.turns.append(turn)
        self.last_trace = turn.trace or self.last_trace
        if turn.status in ("error", "no answer"):
            self.unanswered += 1

    def _forget(self) -> None:
        """After a run that did not end cleanly, the backend drops its cached prompt (if it can)."""
        forget = getattr(self.backend, "forget", None)
        if callable(forget):
            forget()

    def _exit_code(self) -> int:
        return EXIT_BATCH_FAILED if self.unanswered and not self.terminal else EXIT_OK

    # -- commands -------------------------------------------------------------------------

    def command(self, line: str) -> bool:
        """Run a /command line; True when it asks to leave. A bad one raises UsageError (one line)."""
        name, argument = (line.strip()[1:].split(None, 1) + ["", ""])[:2]
        argument = argument.strip()
        handlers: dict[str, Callable[[str], None]] = {
            "strategy": self._strategy, "samples": self._samples, "reasoning": self._reasoning,
            "budget": self._budget, "view": self._view, "save": self._save,
            "save!": lambda a: self._save(a, overwrite=True), "reset": self._reset, "help": self._help,
        }
        if name not in handlers and name not in ("exit", "quit"):
            raise UsageError(f"unknown command /{name}; /help lists the commands")
        if argument and not COMMANDS.get(name.rstrip("!"), ("",))[0]:  # /exit, /reset, /view, /help
            raise UsageError(f"/{name} takes no argument")
        if name in ("exit", "quit"):
            return True
        handlers[name](argument)
        return False

    def _strategy(self, name: str) -> None:
        from ponder.agent.strategies import STRATEGIES

        if not name:
            _note(f"strategy {self.options.strategy}; available: {', '.join(STRATEGIES)}")
            return
        check_strategies((name,), many=False)
        self.options = replace(self.options, strategies=(name,))
        _note(f"strategy {name}")

    def _samples(self, value: str) -> None:
        run = self.options.run
        if not value:
            _note(f"samples {run.samples}")
            return
        samples = _whole_number(value, "/samples N")
        self._set_run(replace(run, samples=samples, budget=replace(run.budget, samples=samples)))
        _note(f"samples {samples}")

    def _budget(self, value: str) -> None:
        run = self.options.run
        if not value:
            _note(f"budget {run.budget.tokens or 'off'} tokens")
            return
        tokens = None if value == "off" else _whole_number(value, "/budget TOKENS (or off)")
        self._set_run(replace(run, budget=replace(run.budget, tokens=tokens)))
        _note(f"budget {tokens or 'off'} tokens")

    def _set_run(self, run: Any) -> None:
        """Use new run settings, checked as the flags are (UsageError, nothing changed, when bad)."""
        problems = run.problems()
        if problems:
            raise UsageError("; ".join(problems))
        self.options = replace(self.options, run=run)

    def _reasoning(self, mode: str) -> None:
        if not mode:
            _note(f"reasoning {self.options.output.reasoning}")
            return
        if mode not in REASONING_MODES:
            raise UsageError(f"/reasoning takes {' or '.join(REASONING_MODES)}")
        self.options = replace(self.options, output=replace(self.options.output, reasoning=mode))
        _note(f"reasoning {mode}")

    def _view(self, argument: str) -> None:
        if self.last_trace is None:
            raise UsageError("no trace to view yet" + (" (--no-trace)" if self.directory is None else ""))
        if not self.terminal or not is_terminal(sys.stdout):
            raise UsageError(f"/view needs a terminal; `ponder view --export md -- {self.last_trace}` prints the run")
        viewer = subprocess.Popen([sys.executable, "-m", "ponder", "view", "--", str(self.last_trace)])
        try:
            viewer.wait()
        except KeyboardInterrupt:  # SIGTERM or SIGHUP while it is open: close it, and give the terminal back
            viewer.terminate()
            try:
                viewer.wait(2)
            except subprocess.TimeoutExpired:
                viewer.kill()
                viewer.wait()
            sys.stdout.write(TERMINAL_RESET)
            sys.stdout.flush()
            raise

    def _save(self, argument: str, overwrite: bool = False) -> None:
        if not argument:
            raise UsageError("/save needs a file name: /save FILE")
        try:
            path = Path(argument).expanduser()
        except RuntimeError:  # ~nouser, or no home to expand ~ to
            raise UsageError(f"cannot expand {argument.split('/')[0]!r}: no such user or home directory") from None
        write_whole(path, to_markdown(self.session, self.model, self.turns), overwrite)
        _note(f"saved {len(self.turns)} turn(s) to {one_line(str(path))}")

    def _reset(self, argument: str) -> None:
        from ponder.agent.engine.ids import new_run_id

        self.turns, self.first_seen, self.session = [], 0, new_run_id()
        _note(f"the conversation is forgotten; new session {self.session}")

    def _help(self, argument: str) -> None:
        usage = {name: f"/{name} {arg}".strip() for name, (arg, _) in COMMANDS.items()}
        width = max(map(len, usage.values())) + 2
        lines = [f"  {usage[name]:<{width}}{what}" for name, (_, what) in COMMANDS.items()]
        sys.stderr.write("\n".join(["commands:", *lines, "keys:", *("  " + k for k in KEYS)]) + "\n")


def count_tokens(backend: Any, text: str) -> int:
    """Tokens in `text` by the backend's tokenizer, else an estimate of 4 characters a token."""
    counter = getattr(backend, "count_tokens", None)
    return int(counter(text)) if callable(counter) else len(text) // 4 + 1


def write_whole(path: Path, text: str, overwrite: bool) -> None:
    """Write `text` to `path` whole (`cli/files.py`); an existing file is replaced only when
    `overwrite`; a failure is a UsageError (exit 2 in a pipe), the session going on at a terminal."""
    from ponder.cli import files
    from ponder.trace.jsonl import WriteError

    try:
        files.write_whole(path, text, overwrite=overwrite)
    except FileExistsError:
        raise UsageError(f"{path} exists; /save! {path} overwrites it") from None
    except WriteError as exc:
        raise UsageError(str(exc)) from None


def _whole_number(value: str, usage: str) -> int:
    """A count as a flag takes one: digits 0-9 only (not '١٠٠', '1_000' or '+5'), at most
    MAX_COUNT_DIGITS of them (Python refuses to read an int past 4,300 digits)."""
    if not (value.isascii() and value.isdigit()):
        raise UsageError(f"{value[:40]!r} is not a whole number: {usage}")
    if len(value.lstrip("0")) > MAX_COUNT_DIGITS:
        raise UsageError(f"{value[:20]}… is too large: {usage}")
    return int(value)


MAX_COUNT_DIGITS = 100  # past a flag's range long before; the range is checked as the flag's


# Leave the alternate screen, stop mouse reporting, show the cursor: what a viewer killed
# before it could clean up leaves behind.
TERMINAL_RESET = "\x1b[?1049l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?25h"


def _interrupt_code(exc: KeyboardInterrupt, terminal: bool) -> int:
    """The exit code when an interrupt ends the session: 0 for Ctrl-C at a terminal's prompt,
    else as for `ask` (130, 143 for SIGTERM) with its one line."""
    if terminal and not isinstance(exc, Terminated):
        sys.stderr.write("\n")  # stdout carries only answers
        return EXIT_OK
    interrupts.tell()
    return exc.exit_code if isinstance(exc, Terminated) else EXIT_INTERRUPTED


def _note(text: str) -> None:
    sys.stderr.write(f"ponder: {text}\n")
    sys.stderr.flush()


def _error(text: str) -> None:
    sys.stderr.write(f"ponder: error: {one_line(text)}\n")
    sys.stderr.flush()
