"""Argument types and the parser that every benchmark script shares.

Rules that hold for every script under benchmarks/: a bad argument (a count below 1, an
offset below 0, a word where a number goes, a file to read that is not one, a results file in
a folder that does not exist, an argument the script does not take) is one usage line on
stderr and exit 2, before anything is read, decoded or written; `--help` prints the script's
docstring and exits 0, writing nothing. A failure while it runs (`run`) is one line too: a
ponder error with its own exit code (a missing model: 3), a file the system refused: 1.
"""
import argparse
import re
import sys
from pathlib import Path
from typing import Callable, NoReturn


def parser(doc: str | None) -> argparse.ArgumentParser:
    """A script's argument parser, its module docstring as the help text."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def positive(text: str) -> int:
    """An argument that counts (items, samples, a top-k): a whole number of at least 1."""
    return _at_least(text, 1)


def offset(text: str) -> int:
    """An argument that skips items: a whole number of at least 0."""
    return _at_least(text, 0)


def at_least(low: int) -> Callable[[str], int]:
    """An argument type: a whole number of at least `low`."""
    return lambda text: _at_least(text, low)


def fraction(text: str) -> float:
    """A probability such as a top-p: a number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 1]")
    return value


def existing_file(text: str) -> Path:
    """A file to read: it must exist and be a regular file."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is not a file" + ("" if path.exists() else " (no such path)"))
    return path


def file_to_write(text: str) -> Path:
    """A results file to write: its folder must exist, and the path must not be a folder."""
    path = Path(text)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: the folder {str(path.parent)!r} does not exist")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")
    return path


def plain_name(text: str) -> str:
    """A results file's name under results/: letters, digits, '_', '-' and '.', not starting with a dot."""
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a plain file name")
    return text


def run(main: Callable[[], object]) -> NoReturn:
    """Run a script's main and exit: a ponder error or a refused file is one line on stderr, never a traceback."""
    from ponder.errors import PonderError

    name = Path(sys.argv[0]).name
    try:
        code = main()
    except PonderError as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except OSError as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{text} is not at least {low}")
    return value
