"""Argument types and the parser that every benchmark script shares.

Rules that hold for every script under benchmarks/: a bad argument (a count below 1, an
offset below 0, a word where a number goes, an argument the script does not take) is one
usage line on stderr and exit 2, before anything is read, decoded or written; `--help`
prints the script's docstring and exits 0, writing nothing.
"""
import argparse
from typing import Callable


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


def _at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{text} is not at least {low}")
    return value
