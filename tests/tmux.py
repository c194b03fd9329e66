"""Drive a program in a real terminal: a detached tmux session on a private server, keys sent,
the pane read back (as a person at a terminal would see it)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest

def need_tmux() -> str:
    """The tmux executable, or skip the test."""
    found = shutil.which("tmux")
    if found is None:
        pytest.skip("tmux is not installed")
    return found


class Terminal:
    """One program running in a detached tmux pane of its own server (socket under `workdir`)."""

    def __init__(self, workdir: Path, command: list[str], env: dict[str, str], width: int = 120,
                 height: int = 40) -> None:
        self.tmux = need_tmux()
        self.socket = workdir / "tmux.sock"
        config = workdir / "tmux.conf"
        config.write_text("set -g remain-on-exit on\nset -g history-limit 5000\n")
        self.status = workdir / "exit-status"
        # bash waits for the program and writes its exit status (tmux may be slow to reap a dead pane's
        # process); bash lets a Ctrl-C that the program handled pass (it exits only if the program died of it)
        program = shlex.join(["env", *(f"{k}={v}" for k, v in env.items()), *command])
        script = f"{program}; echo $? > {shlex.quote(str(self.status))}"
        self._tmux("-f", str(config), "new-session", "-d", "-s", "t", "-c", str(workdir), "-x", str(width),
                   "-y", str(height), "--", "bash", "-c", script)

    def _tmux(self, *args: str) -> str:
        done = subprocess.run([self.tmux, "-S", str(self.socket), *args], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    def send(self, *keys: str) -> None:
        """Send keys as tmux names them ('Enter', 'C-c', 'C-d') or literal text (-l)."""
        for key in keys:
            if re.fullmatch(r"Enter|Escape|Up|Down|Tab|C-[a-z]", key):
                self._tmux("send-keys", "-t", "t", key)
            else:
                self._tmux("send-keys", "-t", "t", "-l", key)

    def line(self, text: str) -> None:
        """Type a line and press Enter."""
        self.send(text, "Enter")

    def paste(self, text: str) -> None:
        """Paste text as a terminal does (bracketed, when the program asked for it)."""
        buffer = self.socket.with_name("paste.txt")
        buffer.write_text(text)
        self._tmux("load-buffer", "-b", "p", str(buffer))
        self._tmux("paste-buffer", "-p", "-d", "-b", "p", "-t", "t")

    def screen(self) -> str:
        """The pane's text, scrollback included."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "t")

    def wait(self, found: Callable[[str], bool], timeout: float, what: str) -> str:
        """Wait until `found(screen)`; fail with the screen after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if found(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout:.0f}s for {what}; the screen:\n{screen}")
            time.sleep(0.2)

    def wait_for(self, pattern: str, timeout: float, after: int = 0) -> str:
        """Wait for a regex (multiline) in the screen text after its first `after` characters."""
        return self.wait(lambda s: re.search(pattern, s[after:], re.M) is not None, timeout, repr(pattern))

    def prompt_ready(self, timeout: float) -> str:
        """Wait until the last non-blank line of the pane is the empty prompt."""
        return self.wait(lambda s: _last_line(s) == ">>>", timeout, "the prompt")

    def exit_status(self) -> int | None:
        """The program's exit status once it ended (the pane stays), else None."""
        try:
            written = self.status.read_text()
        except FileNotFoundError:
            return None
        return int(written) if written.endswith("\n") else None

    def wait_exit(self, timeout: float) -> int:
        """Wait for the program to end; its exit status."""
        deadline = time.monotonic() + timeout
        while (status := self.exit_status()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"the program did not end in {timeout:.0f}s; the screen:\n{self.screen()}")
            time.sleep(0.2)
        return status

    def close(self) -> None:
        """Stop the tmux server (and the program, if it still runs)."""
        subprocess.run([self.tmux, "-S", str(self.socket), "kill-server"], capture_output=True, timeout=30)


def _last_line(screen: str) -> str:
    lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
    return lines[-1] if lines else ""
