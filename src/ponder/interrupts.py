"""Interrupts: SIGINT, SIGTERM and SIGHUP stop a run the same way, and never tear a line being written.

Rules that must hold:
- After `install()` (the CLI's main calls it once), SIGINT raises KeyboardInterrupt and
  SIGTERM or SIGHUP (the terminal closed, an SSH session dropped) raises `Terminated`, a
  KeyboardInterrupt: every path that closes a run on Ctrl-C (its trace ends with an
  `interrupted` event) closes it on SIGTERM and SIGHUP too.
- `exit_code()` is 130 after SIGINT, 143 (128 + 15) after SIGTERM and 129 after SIGHUP.
- Inside `held()` a signal is only noted; it is raised when the outermost `held()` ends, so
  a whole line (of a trace or a results file) is written or not at all. A second signal while
  one is held raises at once: a write into a pipe whose reader stalls (`| less`) would hold it
  for ever (a line cut there is cut back in a file, `LineFile`; a pipe may see it torn). When the block
  itself raises, its error goes on and the noted signal is dropped, never kept to fire later. Without `install()`
  (a library caller) the default handlers stay and `held()` holds nothing back.
- A signal ignored when ponder starts stays ignored (as Python itself leaves an ignored
  SIGINT): a `&` job of a script, whose shell ignores SIGINT for it, is not stopped by the
  Ctrl-C meant for the foreground.
- An interrupted command says so in one line (`tell`); where a signal stopped one before it
  could (typer turns a KeyboardInterrupt into exit 130 by itself), the CLI's main says it.
- Signals are handled in the main thread only, so `held()` in another thread (a worker of
  `batch --concurrency`) holds nothing back and never raises: no signal can tear its write.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) arrived: stop as on Ctrl-C, but exit 128 + the signal."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__()
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal: 143 for SIGTERM, 129 for SIGHUP."""
        return 128 + self.signum


_state = {"depth": 0, "pending": 0, "last": 0, "told": 0}


def install() -> None:
    """Route SIGINT, SIGTERM and SIGHUP through the handler (main thread only), unless ignored already."""
    for signum in (signal.SIGINT, signal.SIGTERM, *_hangup()):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _on_signal)


def exit_code() -> int:
    """The exit code of an interrupted run: 143 after SIGTERM, 129 after SIGHUP, else 130."""
    return 128 + _state["last"] if _state["last"] in (signal.SIGTERM, *_hangup()) else EXIT_SIGINT


def tell(message: str = "interrupted") -> None:
    """Say on stderr that an interrupt stopped the command (`ponder: interrupted`), once."""
    import sys

    sys.stderr.write(f"ponder: {message}\n")
    sys.stderr.flush()
    _state["told"] = 1


def untold() -> bool:
    """Whether a signal stopped the command and nothing has said so yet."""
    return bool(_state["last"]) and not _state["told"]


def _hangup() -> tuple[int, ...]:
    return (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()


@contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM off for the block; raise one that came when it ends."""
    if threading.current_thread() is not threading.main_thread():
        yield  # a handler only ever runs in the main thread
        return
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        signum = _state["pending"] if _state["depth"] == 0 else 0
        if signum:
            _state["pending"] = 0  # never left behind to fire at the end of some later block
    if signum:
        _raise(signum)  # reached only when the block ended normally; an error it raised goes first


def _on_signal(signum: int, frame: object) -> None:
    _state["last"] = signum
    if _state["depth"] and not _state["pending"]:
        _state["pending"] = signum
        return
    _state["pending"] = 0  # a second signal while one is held: a write blocked on a stalled reader
    _raise(signum)


def _raise(signum: int) -> None:
    raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)
