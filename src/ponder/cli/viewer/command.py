"""`ponder view`: resolve what to open, then export Markdown or start the Textual app.

Rules that must hold:
- User errors (a path that does not exist, flags that do not fit together, a file that is
  not a trace with `--export md`) raise `UsageError`: one line on stderr, exit 2.
- `--export md` never starts Textual (and never needs a terminal); it writes Markdown to
  stdout or to `-o FILE` (whole, through a temporary file; never the trace it reads: exit 2),
  and warnings about damaged lines to stderr. It ignores the theme.
  It writes through `sys.stdout`, so a closed or full stdout is one line and exit 1
  (`cli/streams.py` guards it).
- Traces are read through `ponder.inputs` (bounded; a FIFO or a device is refused before it is
  read, for the app too), from a file or from stdin.
- The theme is checked only when the app starts: an unknown one is one line and exit 2.
- Textual is imported only when the app really starts, so the export path stays light.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ponder import inputs
from ponder.cli.safe import visible
from ponder.cli.viewer.export import to_markdown
from ponder.cli.viewer.source import Loaded, load_bytes, read_path
from ponder.errors import UsageError

THEMES = ("dark", "light")


def run_view(target: str | None, *, follow: bool = False, export: str | None = None,
             output: Path | None = None, trace_dir: Path | None = None, theme: str = "dark") -> int:
    """Run `ponder view`; return the exit code."""
    if output is not None and export is None:
        raise UsageError("-o/--output needs --export md")
    if not export and theme not in THEMES:
        raise UsageError(f"unknown theme '{visible(theme)}': use {' or '.join(THEMES)} (--theme or PONDER_THEME)")
    if target == "-":
        if follow:
            raise UsageError("--follow needs a trace file, not stdin")
        data = _read_stdin()
        return _export(load_bytes(data), "stdin", output) if export else _start(None, data, False, follow, theme)
    path, is_dir = _resolve(target, trace_dir)
    if export:
        if is_dir:
            raise UsageError("--export md needs one trace: pass a trace file or -")
        if output is not None and inputs.is_same_file(path, output):
            raise UsageError(f"-o {output} is the trace being exported; choose another file")
        return _export(load_bytes(read_path(path)), str(path), output)
    if follow and is_dir:
        path, is_dir = _newest(path), False
    return _start(path, None, is_dir, follow, theme)


def _resolve(target: str | None, trace_dir: Path | None) -> tuple[Path, bool]:
    if target is None:
        from ponder import paths

        directory = trace_dir or paths.trace_dir()
        if trace_dir is not None and not directory.is_dir():
            raise UsageError(f"trace directory {directory} does not exist")
        return directory, True
    path = Path(target).expanduser()
    try:
        if path.is_dir():
            return path, True
        exists = path.exists()
    except OSError as exc:  # a name longer than the system allows
        raise UsageError(f"trace {visible(str(path))}: {exc.strerror or exc}") from None
    if not exists:
        raise UsageError(f"no such trace file or directory: {path}")
    problem = inputs.describe(path)
    if problem:
        raise UsageError(f"trace {path}: {problem}")
    return path, False


def _newest(directory: Path) -> Path:
    from ponder.cli.viewer.runs import scan

    runs = [r for r in scan(directory) if r.status != "invalid"]
    if not runs:
        raise UsageError(f"no traces in {directory} to follow")
    return runs[0].path


def _read_stdin() -> bytes:
    stream = inputs.stdin_bytes()
    if stream is not None and stream.isatty():
        raise UsageError("'-' reads a trace from stdin, but stdin is a terminal: pipe a trace in")
    return inputs.read_stdin(inputs.MAX_TRACE_BYTES, "the trace on stdin")


def _export(loaded: Loaded, name: str, output: Path | None) -> int:
    if loaded.problem:
        raise UsageError(f"{name}: {loaded.problem}")
    for warning in loaded.warnings:
        sys.stderr.write(f"ponder: warning: {visible(name)}: {visible(warning)}\n")
    text = to_markdown(loaded.events, loaded.warnings)
    if output is None:
        _write_stdout(text)
        return 0
    _write_whole(output, text)
    return 0


def _write_whole(output: Path, text: str) -> None:
    """Write the Markdown whole (`cli/files.py`); a directory as the output is a usage error."""
    from ponder.cli.files import write_whole

    try:
        is_dir = output.is_dir()
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    if is_dir:
        raise UsageError(f"-o {output} is a directory; name a file")
    write_whole(output, text)


def _write_stdout(text: str) -> None:
    """Write the Markdown to stdout; `main`'s guard on stdout turns a failure into one line, exit 1."""
    sys.stdout.write(text)
    sys.stdout.flush()


def _start(path: Path | None, data: bytes | None, is_dir: bool, follow: bool, theme: str) -> int:
    if sys.stdout is None or not sys.stdout.isatty():
        raise UsageError("ponder view needs a terminal; use --export md to print a run as Markdown")
    if data is not None:
        _keys_from_terminal()
    from ponder.cli.viewer.app import Target, ViewerApp

    ViewerApp(Target(path=path, data=data, is_dir=is_dir), follow=follow, theme=theme).run()
    return 0


def _keys_from_terminal() -> None:
    """After reading a trace from stdin, read the keyboard from the terminal instead."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        raise UsageError("cannot open the terminal for keys; use --export md with stdin") from None
    os.dup2(fd, 0)
    os.close(fd)
