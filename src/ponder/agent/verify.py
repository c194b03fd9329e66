"""Checking a verify step: run its code and compare what it prints with the candidate answer.

Rules that must hold:
- Model code runs only through `ponder.tools.pyrun` (a separate, limited process).
- The outcome is "pass", "fail" or "none" (nothing to check); a failure always says why in
  the observation the model will read.
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.tools.answers import ExtractedAnswer, equivalent, extract_answer
from ponder.tools.pyrun import RunResult

OBSERVATION_CHARS = 800


@dataclass(frozen=True)
class CheckReport:
    """What checking a step found: outcome, a one-sentence verdict, and the observation text."""

    outcome: str
    verdict: str
    output: str = ""
    runs: tuple[tuple[str, RunResult], ...] = ()
    computed: ExtractedAnswer | None = None

    @property
    def observation(self) -> str:
        """What the model reads in <observation>: the output, then the verdict."""
        return f"{self.output}\n{self.verdict}" if self.output else self.verdict


def printed_value(result: RunResult) -> ExtractedAnswer:
    """The answer a check printed: its last non-empty line, read as an answer."""
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return extract_answer(lines[-1]) if lines else extract_answer("")


def judge(blocks: list[str], results: list[RunResult], candidate: ExtractedAnswer | None) -> CheckReport:
    """Judge the results of a step's code blocks against the candidate answer."""
    runs = tuple(zip(blocks, results))
    if not runs:
        return CheckReport("none", "No code was found to run.")
    failed = [result for result in results if not result.ok]
    if failed:
        return CheckReport("fail", _failure_text(failed[0]), _clip(failed[0].stdout.strip()), runs)
    shown = _clip(results[-1].stdout.strip()) or "(nothing was printed)"
    printed = printed_value(results[-1])
    if candidate is None or candidate.kind == "none" or printed.kind == "none":
        return CheckReport("pass", "The code ran.", shown, runs)
    if equivalent(printed, candidate):
        return CheckReport("pass", f"The check agrees with the candidate answer {candidate.normalized}.", shown, runs)
    verdict = (
        f"MISMATCH: the check computed {printed.normalized} straight from the question, "
        f"but the candidate answer was {candidate.normalized}."
    )
    return CheckReport("fail", verdict, shown, runs, computed=printed)


def _failure_text(result: RunResult) -> str:
    if result.status == "timeout":
        return "The code ran too long and was stopped."
    if result.status == "memory":
        return "The code ran out of memory."
    if result.status == "output-truncated":
        return "The code printed too much output."
    last = [line for line in result.stderr.splitlines() if line.strip()]
    return "The code failed: " + _clip(last[-1] if last else f"exit status {result.exit_code}")


def _clip(text: str) -> str:
    return text if len(text) <= OBSERVATION_CHARS else text[:OBSERVATION_CHARS] + " …"
