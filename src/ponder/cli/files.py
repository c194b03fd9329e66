"""Writing a user's output file whole (eval's report, an exported run, a saved chat).

Rules that must hold: the text goes to a fresh temporary file beside the target (mkstemp: no
name an earlier run or another user left there is reused, and its mode is an ordinary new
file's) and is moved into place in one step, so a failed write (a full disk, a folder that is
not there) leaves the old file as it was and no temporary file behind; a symlink is written
through, to its target, as a plain write would; without `overwrite` an existing file is
refused atomically (a hard link; FileExistsError); any other failure is one `WriteError`
line (exit 1). A device or a pipe (`/dev/null`, `/dev/stdout`, a FIFO with a reader) is
written into as it is, never replaced by a file: a FIFO without a reader is a WriteError,
not a wait.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from ponder.inputs import FIFO, describe
from ponder.trace.jsonl import TEMP_NAME_CHARS, WriteError


def write_whole(path: Path, text: str | bytes, encoding: str = "utf-8", *, overwrite: bool = True) -> None:
    """Write `text` (or bytes: a PNG) to `path` whole; FileExistsError when it exists and not
    `overwrite`, else WriteError."""
    if "\x00" in os.fspath(path):
        raise WriteError(f"cannot write {os.fspath(path)!r}: a file name cannot hold a NUL byte")
    if describe(path) == "a directory":  # never "exists; overwrite it?": it cannot be overwritten
        raise WriteError(f"cannot write {path}: it is a directory")
    kind = _special(path)
    if kind:
        if not overwrite:
            raise FileExistsError(str(path))
        _write_into(path, text, encoding, kind)
        return
    target = Path(os.path.realpath(path))
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name[:TEMP_NAME_CHARS]}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with _opened(fd, text, encoding) as f:
            mask = os.umask(0)
            os.umask(mask)
            os.fchmod(f.fileno(), 0o666 & ~mask)  # as an ordinary new file, not mkstemp's 0600
            f.write(text)
        _place(temp, target, overwrite)
    except FileExistsError:
        raise
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)


def _place(temp: str, target: Path, overwrite: bool) -> None:
    """Move the written file into place: a hard link refuses an existing file atomically."""
    if overwrite:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if os.path.lexists(target):
            raise FileExistsError(str(target)) from None
        os.replace(temp, target)


def _opened(fd: int, text: str | bytes, encoding: str, closefd: bool = True):  # type: ignore[no-untyped-def]
    """A file object on `fd` for writing `text`: binary for bytes."""
    if isinstance(text, bytes):
        return os.fdopen(fd, "wb", closefd=closefd)
    return os.fdopen(fd, "w", encoding=encoding, closefd=closefd)


def _special(path: Path) -> str:
    """'device' or 'pipe' when the path (followed) is one, else '' (`inputs.describe` tells)."""
    return {"a device": "device", FIFO: "pipe"}.get(describe(path), "")


def _write_into(path: Path, text: str | bytes, encoding: str, kind: str) -> None:
    """Write into a device or a pipe as a shell redirection would, without waiting for a reader."""
    flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0) | (os.O_NONBLOCK if kind == "pipe" else 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        why = "a FIFO with no reader" if exc.errno == errno.ENXIO else exc.strerror or str(exc)
        raise WriteError(f"cannot write {path}: {why}") from None
    try:
        os.set_blocking(fd, True)
        with _opened(fd, text, encoding, closefd=False) as f:
            f.write(text)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
