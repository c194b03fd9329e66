"""Stop-sequence scanning over streamed text, shared by all backends.

Rule that must hold: text is released only when no stop sequence can still begin inside it,
so a caller never sees part of a stop sequence, and the released text joined equals the
output up to (not including) the first stop sequence.
"""

from __future__ import annotations


class StopScanner:
    """Holds back streamed text that could be the start of a stop sequence."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Add text; return what can be released now. Sets `stopped` on a full match."""
        if self.stopped:
            return ""
        self._pending += text
        hit = self._first_match()
        if hit is not None:
            self.stopped = True
            out, self._pending = self._pending[:hit], ""
            return out
        keep = self._longest_partial()
        cut = len(self._pending) - keep
        out, self._pending = self._pending[:cut], self._pending[cut:]
        return out

    def flush(self) -> str:
        """Release whatever is held back (the stream ended without a stop)."""
        out, self._pending = self._pending, ""
        return "" if self.stopped else out

    def _first_match(self) -> int | None:
        found = [i for i in (self._pending.find(s) for s in self.stops) if i >= 0]
        return min(found) if found else None

    def _longest_partial(self) -> int:
        best = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(self._pending)), best, -1):
                if self._pending.endswith(stop[:n]):
                    best = n
                    break
        return best
