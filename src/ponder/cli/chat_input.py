"""A chat's input: a terminal prompt with line editing and history, or stdin line by line.

Rules that must hold:
- On a terminal, lines are read with the stdlib `readline` (no new dependency): line editing,
  Tab completes commands, and the history is kept across sessions in
  `paths.data_dir()/chat_history` (its newest HISTORY_LENGTH entries; a history that cannot be
  read or written costs nothing, and one that is not a regular file within HISTORY_BYTES, a
  FIFO say, is never opened). Bracketed paste is on, so a paste of several lines stays in
  the line being edited and is sent as one question by Enter.
- When stdin is not a terminal it is read line by line, each read bounded (a line longer
  than MAX_QUESTION_BYTES is skipped whole), with no prompt and no history.
- A line starting with `\"\"\"` opens a block that ends at a line ending with `\"\"\"`: the
  lines between are one question, never a command, and the history keeps it as one line
  between its quotes (`Entry.as_history`), so a recalled block is a question again. Otherwise
  a line starting with "/" is a command.
- A line that cannot be used (not UTF-8, too long, a block the input ended inside) is one
  UsageError; the caller says it in one line and reads on. The end of the input (Ctrl-D) is
  None; Ctrl-C reaches the caller as KeyboardInterrupt.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Protocol

from ponder.errors import UsageError
from ponder.inputs import MAX_QUESTION_BYTES, decode_utf8

HISTORY_LENGTH = 1000
HISTORY_BYTES = 16 * 1024 * 1024  # a history file past this is not read (readline reads it whole)
PROMPT, MORE = ">>> ", "... "
QUOTES = '"""'
_SKIP_CHUNK = 64 * 1024


class Lines(Protocol):
    """Where a chat's lines come from."""

    def line(self, more: bool = False) -> str | None:
        """The next line without its newline (`more`: inside a block), or None at the end."""
        ...

    def remember(self, text: str) -> None:
        """Keep an entry in the history (if there is one)."""
        ...

    def close(self) -> None:
        """Save what needs saving."""
        ...


class UnusableLine(UsageError):
    """A line that cannot be used (not UTF-8, too long); `closes_block` when it ends with the
    closing quotes, so a block it is in ends there."""

    def __init__(self, message: str, closes_block: bool = False) -> None:
        super().__init__(message)
        self.closes_block = closes_block


@dataclass(frozen=True)
class Entry:
    """What the user sent: a question or a command line."""

    text: str
    command: bool = False
    block: bool = False  # written between triple quotes

    def as_history(self) -> str:
        """The entry as one history line that reads back as the same kind of entry: a block
        between its quotes, its line breaks as spaces (a history file holds a line an entry)."""
        return f"{QUOTES}{' '.join(self.text.splitlines())}{QUOTES}" if self.block else self.text


def read_entry(lines: Lines) -> Entry | None:
    """The next question or command (a line, or a block between triple quotes); None at the end."""
    line = lines.line()
    if line is None:
        return None
    if line.lstrip().startswith(QUOTES):
        return Entry(_block(line.lstrip()[len(QUOTES):], lines), block=True)
    return Entry(line.strip(), command=line.lstrip().startswith("/"))


def _block(first: str, lines: Lines) -> str:
    """The lines of a block up to the one that ends with the closing quotes, as one text; a
    block past MAX_QUESTION_BYTES, or holding a line that cannot be used (not UTF-8, too long),
    is read to its end but not kept (UsageError): none of its lines is ever a command."""
    body: list[str] = []
    size = 0
    text: str | None = first
    bad: UsageError | None = None
    while text is not None and not text.rstrip().endswith(QUOTES):
        size += len(text.encode("utf-8", "surrogatepass")) + 1
        if size <= MAX_QUESTION_BYTES:
            body.append(text)
        try:
            text = lines.line(more=True)
        except UsageError as exc:  # read on to the closing quotes (the bad line's own too); not asked
            bad, text = bad or exc, QUOTES if getattr(exc, "closes_block", False) else ""
    if text is None:
        raise UsageError(f'the input ended inside a {QUOTES} block; that question was not asked')
    if bad is not None:
        raise UsageError(f"{bad}; the {QUOTES} block it is in was not asked")
    if size > MAX_QUESTION_BYTES:
        raise UsageError(f"the question is larger than {MAX_QUESTION_BYTES // 1024} KiB; it was not asked")
    body.append(text.rstrip()[: -len(QUOTES)])
    return "\n".join(body).strip()


class PipedLines:
    """Lines of a stdin that is not a terminal, each read bounded."""

    def __init__(self, stream: BinaryIO | None, limit: int = MAX_QUESTION_BYTES) -> None:
        self.stream = stream
        self.limit = limit
        self.number = 0

    def line(self, more: bool = False) -> str | None:
        """The next line of stdin, or None at its end; a line over the limit is skipped (UsageError)."""
        if self.stream is None:
            return None
        try:
            raw = self.stream.readline(self.limit + 1)
        except OSError as exc:
            raise UsageError(f"cannot read stdin: {exc.strerror or exc}") from None
        if not raw:
            return None
        self.number += 1
        if len(raw) > self.limit and not raw.endswith(b"\n"):
            end = self._skip_rest() or raw
            raise UnusableLine(f"line {self.number} of stdin is larger than {self.limit // 1024} KiB; skipped",
                               closes_block=end.rstrip().endswith(QUOTES.encode()))
        try:
            return decode_utf8(raw, f"line {self.number} of stdin").rstrip("\r\n")
        except UsageError as exc:
            raise UnusableLine(str(exc), closes_block=raw.rstrip().endswith(QUOTES.encode())) from None

    def _skip_rest(self) -> bytes:
        """Read past the rest of a long line; return its last piece (b"" when there is none)."""
        assert self.stream is not None
        last = b""
        while chunk := self.stream.readline(_SKIP_CHUNK):
            last = chunk
            if chunk.endswith(b"\n"):
                break
        return last

    def remember(self, text: str) -> None:
        """No history when reading a pipe."""

    def close(self) -> None:
        """Nothing to save."""


class TerminalLines:
    """Lines typed at a terminal, read with readline: editing, history, command completion."""

    def __init__(self, history: Path, commands: Iterable[str]) -> None:
        self.history = history
        self.commands = sorted(commands)
        self.readline = _readline()
        self._prompt_on_stdout = is_terminal(sys.stdout)
        if self.readline is not None:
            self._set_up(self.readline)

    def line(self, more: bool = False) -> str | None:
        """The next line typed, or None after Ctrl-D."""
        prompt = MORE if more else PROMPT
        if not self._prompt_on_stdout:  # stdout is redirected: the prompt goes where the user looks
            sys.stderr.write(prompt)
            sys.stderr.flush()
            prompt = ""
        try:
            text = input(prompt)
        except EOFError:
            sys.stderr.write("\n")
            return None
        except UnicodeDecodeError:
            raise UsageError("the line is not valid UTF-8") from None
        try:
            text.encode("utf-8")  # a byte that is not UTF-8 arrives as a lone surrogate
        except UnicodeEncodeError:
            raise UnusableLine("the line is not valid UTF-8", closes_block=text.rstrip().endswith(QUOTES)) from None
        return text

    def remember(self, text: str) -> None:
        """Add an entry to the history and save the history."""
        if self.readline is None or not text.strip():
            return
        self.readline.add_history(text)
        self.close()

    def close(self) -> None:
        """Write the history file (its newest HISTORY_LENGTH entries); failures cost nothing."""
        if self.readline is None:
            return
        try:
            self.history.parent.mkdir(parents=True, exist_ok=True)
            if _usable_history(self.history, missing_ok=True):
                self.readline.write_history_file(str(self.history))
        except OSError:
            pass

    def _set_up(self, readline: Any) -> None:
        readline.set_auto_history(False)  # whole entries are added (a block is one), not each line
        readline.set_history_length(HISTORY_LENGTH)
        try:
            if _usable_history(self.history, missing_ok=False):
                readline.read_history_file(str(self.history))
        except (OSError, UnicodeDecodeError):
            pass
        readline.set_completer(self._complete)
        if "libedit" in (readline.__doc__ or ""):  # macOS's readline speaks another dialect
            readline.parse_and_bind("bind ^I rl_complete")
            return
        readline.parse_and_bind("set enable-bracketed-paste on")
        readline.parse_and_bind("tab: complete")

    def _complete(self, text: str, state: int) -> str | None:
        """Readline's completer: the command names that start with what is typed after '/'."""
        buffer = self.readline.get_line_buffer() if self.readline else ""
        if not buffer.startswith("/") or " " in buffer:
            return None
        found = [name for name in self.commands if name.startswith(text)]
        return found[state] if state < len(found) else None


def _readline() -> Any:
    """The stdlib readline module, or None where Python has none."""
    try:
        import readline
    except ImportError:
        return None
    return readline


def is_terminal(stream: Any) -> bool:
    """Whether a stream is a terminal (False when closed or missing)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (OSError, ValueError):
        return False


def _usable_history(path: Path, missing_ok: bool) -> bool:
    """Whether the history file may be opened: a regular file within HISTORY_BYTES (readline
    would block forever on a FIFO and read a huge file whole), or missing when it is to be made."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return missing_ok
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size <= HISTORY_BYTES
