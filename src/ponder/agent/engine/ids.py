"""Span ids for the nodes of a run's tree."""

from __future__ import annotations

import itertools
import secrets
import time


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus random hex."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


class SpanIds:
    """Hands out span ids unique within one run: s1, s2, ..."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> str:
        """A fresh span id."""
        return f"s{next(self._counter)}"
