"""Read untrusted inputs: every file or stream ponder reads goes through here, with a bound.

Rules that must hold:
- Nothing is read without a limit: a read stops one byte past the limit and refuses the input
  with one line (UsageError) naming what was read and the limit; `/dev/zero` costs at most
  the limit in memory.
- A path must name a regular file (or stdin through '-'): a FIFO, a device, a directory or a
  symlink loop is refused by what it is before any read, so nothing blocks forever.
- A stdin that is closed (`<&-`) or fails to read is one line, never a traceback.
- Text is UTF-8: a file's leading BOM is dropped, and bytes that are not UTF-8 (in a file, on
  stdin, or in an argument, which Python decodes to lone surrogates) are refused.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from typing import BinaryIO

from ponder.errors import UsageError

KIB = 1024
MIB = 1024 * KIB
MAX_QUESTION_BYTES = 256 * KIB   # one question (ask: argument and stdin together)
MAX_QUESTIONS_BYTES = 256 * MIB  # a question file of batch / eval (read line by line)
MAX_CODE_BYTES = 1 * MIB          # a program for `tools python`
MAX_SCRIPT_BYTES = 16 * MIB       # a fake model's script
MAX_TRACE_BYTES = 256 * MIB       # one trace file
MAX_RESULTS_BYTES = 1024 * MIB    # a results file being resumed
MAX_ITEM_NESTING = 32             # lists and objects in one line of a question file


FIFO = "a FIFO (named pipe)"
FROM_STDIN = ("question file", "trace", "program")  # what '-' can read from stdin instead


def describe(path: str | os.PathLike[str]) -> str:
    """What a path is, in words, when it is not a regular file ('' when it is one)."""
    try:
        mode = os.stat(path).st_mode
    except ValueError:  # a NUL byte in the name
        return "no usable path (it holds a NUL byte)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "not found"
        return exc.strerror or "unreadable"
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return FIFO
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | os.PathLike[str], what: str) -> BinaryIO:
    """Open a regular file for reading in binary, or raise UsageError naming why not."""
    problem = describe(path)
    if problem:
        hint = "; pipe it to stdin with '-' instead" if problem == FIFO and what in FROM_STDIN else ""
        raise UsageError(f"{what} {os.fspath(path)}: {problem}{hint}")
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the check, open cannot block.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UsageError(f"cannot read {what} {os.fspath(path)}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UsageError(f"{what} {os.fspath(path)}: not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_stream(stream: BinaryIO, limit: int, what: str) -> bytes:
    """At most `limit` bytes of an open stream; more than that is a UsageError."""
    try:
        data = stream.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what}: {exc.strerror or exc}") from None
    if data is None:
        data = b""
    if len(data) > limit:
        raise UsageError(f"{what} is larger than {size_text(limit)}; refusing to read it")
    return data


def read_file(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """At most `limit` bytes of a regular file; a non-regular file or a larger one is refused."""
    with open_regular(path, what) as f:
        return read_stream(f, limit, f"{what} {os.fspath(path)}")


def stdin_bytes() -> BinaryIO | None:
    """The binary stdin, or None when it is closed."""
    stream = sys.stdin
    if stream is None:
        return None
    try:
        stream.fileno()
    except (OSError, ValueError):
        return None
    return stream.buffer


def read_stdin(limit: int, what: str = "stdin") -> bytes:
    """At most `limit` bytes of stdin; a closed stdin is a UsageError."""
    stream = stdin_bytes()
    if stream is None:
        raise UsageError(f"cannot read {what}: stdin is closed")
    return read_stream(stream, limit, what)


def read_source(source: str, limit: int, what: str) -> bytes:
    """A file's bytes, or stdin's for '-', bounded by `limit`."""
    return read_stdin(limit, f"{what} on stdin") if source == "-" else read_file(source, limit, what)


def decode_utf8(data: bytes, what: str) -> str:
    """Bytes as UTF-8 text without a leading BOM; invalid UTF-8 is a UsageError."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise UsageError(f"{what} is not valid UTF-8") from None


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(text: str) -> str:
    """`text` with each lone surrogate (an undecodable byte of a file name, JSON's "\\udfff"
    escape) as U+FFFD, so it can be encoded, drawn or written."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def argument_text(value: str, what: str) -> str:
    """A command-line argument as text; one holding bytes that are not UTF-8 is a UsageError."""
    try:
        value.encode("utf-8")  # Python decodes such bytes of argv to lone surrogates
    except UnicodeEncodeError:
        raise UsageError(f"{what} is not valid UTF-8") from None
    return value


def size_text(limit: int) -> str:
    """A byte limit in words: '256 KiB', '1 MiB'."""
    if limit >= MIB and limit % MIB == 0:
        return f"{limit // MIB} MiB"
    return f"{limit // KIB} KiB" if limit >= KIB and limit % KIB == 0 else f"{limit:,} bytes"


def is_same_file(first: str | os.PathLike[str], second: str | os.PathLike[str]) -> bool:
    """Whether two paths name the same file (same device and inode); False when either is missing."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def nesting_depth(value: object, limit: int) -> int:
    """How deeply lists and mappings nest in a parsed JSON value, counted without recursion
    and no further than one past `limit`."""
    if not isinstance(value, (list, dict)):
        return 0
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth + 1 > limit:
                return depth + 1
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


__all__ = [
    "MAX_CODE_BYTES", "MAX_ITEM_NESTING", "MAX_QUESTION_BYTES", "MAX_QUESTIONS_BYTES", "MAX_RESULTS_BYTES", "MAX_SCRIPT_BYTES",
    "MAX_TRACE_BYTES", "argument_text", "decode_utf8", "describe", "is_same_file", "nesting_depth", "open_regular", "read_file",
    "read_source", "read_stdin", "read_stream", "size_text", "stdin_bytes",
]
