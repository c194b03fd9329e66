"""Checking a verify step: its code's output and its CHECK claims against the candidate answer.

Rules that must hold:
- Model code and claims run only through `ponder.tools.sandbox` and
  `ponder.tools.sympy_check`; this module only judges their results.
- The outcome is "pass", "fail" or "none" (nothing was checked); a failure always says why
  in the observation the model reads next. A refused or broken CHECK is no evidence either
  way; a false one is a failure.
- A pass is evidence: a program passes only when it printed a value that was compared with
  the candidate and agreed, or a CHECK claim held. Code that ran but printed nothing
  readable (or ran with no candidate to compare) is "none", never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.tools.answers import ExtractedAnswer, equivalent, printed_answer
from ponder.tools.sandbox import Result
from ponder.tools.sympy_check import CheckResult

OBSERVATION_CHARS = 800


@dataclass(frozen=True)
class CheckReport:
    """What checking a step found: outcome, a one-sentence verdict, and the observation text."""

    outcome: str
    verdict: str
    output: str = ""
    computed: ExtractedAnswer | None = None  # a failed comparison: the value the check computed
    agreed: ExtractedAnswer | None = None  # a passed comparison: the value it agreed with

    @property
    def observation(self) -> str:
        """What the model reads in <observation>: the output, then the verdict."""
        return f"{self.output}\n{self.verdict}" if self.output else self.verdict


def printed_value(result: Result, question: str = "") -> ExtractedAnswer:
    """The answer a program printed (`answers.printed_answer`): its last line, or the roots one per line."""
    return printed_answer(result.stdout, question)


def judge_check(runs: list[Result], checks: list[CheckResult], candidate: ExtractedAnswer | None) -> CheckReport:
    """Judge a step's program runs and sympy checks against the candidate answer."""
    claims = "\n".join(f"CHECK {c.claim}: {c.status} ({_clip(c.detail, 200)})" for c in checks)
    refused = [r for r in runs if r.status == "refused"]
    runs = [r for r in runs if r.status != "refused"]
    if refused:
        claims = _join(f"(the code was not run: {refused[0].stderr})", claims)
    if not runs and not any(c.status in ("true", "false") for c in checks):
        return CheckReport("none", "Nothing could be checked.", claims)
    failed = [r for r in runs if not r.ok]
    if failed:
        output = _join(_clip(failed[0].stdout.strip()), claims)
        return CheckReport("fail", _failure_text(failed[0]), output)
    false = [c for c in checks if c.status == "false"]
    shown = _join(_clip(runs[-1].stdout.strip()) or "(nothing was printed)", claims) if runs else claims
    if false:
        return CheckReport("fail", f"FALSE: the claim {false[0].claim} does not hold ({false[0].detail}).", shown)
    held = any(c.status == "true" for c in checks)
    if not runs:
        return CheckReport("pass", "Every claim holds.", shown)
    printed = printed_value(runs[-1])
    if candidate is None or candidate.kind == "none" or printed.kind == "none":
        if held:
            return CheckReport("pass", "Every claim holds.", shown)
        why = "printed no value to compare with the candidate" if printed.kind == "none" else "had no candidate to compare with"
        return CheckReport("none", f"The code ran but {why}: nothing was checked.", shown)
    if equivalent(printed, candidate):
        return CheckReport("pass", f"The check agrees with the candidate answer {candidate.normalized}.", shown,
                           agreed=candidate)
    verdict = (
        f"MISMATCH: the check computed {printed.normalized} straight from the question, "
        f"but the candidate answer was {candidate.normalized}."
    )
    return CheckReport("fail", verdict, shown, computed=printed)


def _failure_text(result: Result) -> str:
    if result.status == "timeout":
        return "The code ran too long and was stopped."
    if result.status == "memory":
        return "The code ran out of memory."
    if result.status == "output-truncated":
        return "The code printed too much output."
    last = [line for line in result.stderr.splitlines() if line.strip()]
    return "The code failed: " + _clip(last[-1] if last else f"exit status {result.exit_code}")


def _join(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def _clip(text: str, limit: int = OBSERVATION_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + " …"
