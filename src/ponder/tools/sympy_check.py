"""One sympy check of a claim: validated here with the allow-list, evaluated in the sandbox.

Rules that must hold: no model text reaches sympify, parse_expr or eval in this process;
`sympy_worker.validate` only parses with `ast`, and sympy runs in the sandbox worker. The
claims of one run share its wall limit in equal parts (after IMPORT_SECONDS for sympy), so one
slow claim times out alone.
"""

from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ponder.tools.sandbox import Sandbox
from ponder.tools.sympy_worker import Refused, validate

IMPORT_SECONDS = 1.0  # what importing sympy in the sandbox may take, before any claim runs


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one claim."""

    claim: str
    status: str  # true, false, value, refused, error, timeout
    detail: str
    seconds: float = 0.0
    isolation: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@lru_cache(maxsize=1)
def _worker_source() -> str:
    return resources.files("ponder.tools").joinpath("sympy_worker.py").read_text(encoding="utf-8")


def run_check(claim: str, sandbox: Sandbox) -> CheckResult:
    """Check one claim (e.g. '16 - 3 - 4 == 9', 'solve(2*x + 3 = 11, x)')."""
    return run_checks([claim], sandbox)[0]


def run_checks(claims: list[str], sandbox: Sandbox) -> list[CheckResult]:
    """Check several claims in one sandbox run (sympy is imported once)."""
    results: dict[int, CheckResult] = {}
    allowed: list[tuple[int, str]] = []
    for i, claim in enumerate(claims):
        try:
            validate(claim)
            allowed.append((i, claim))
        except Refused as exc:
            results[i] = CheckResult(claim, "refused", str(exc))
    if allowed:
        data = {"claims": [c for _, c in allowed], "seconds": claim_seconds(sandbox, len(allowed))}
        run = sandbox.run(_worker_source(), data=data)
        lines = run.stdout.strip().splitlines() if run.stdout.strip() else []
        share = round(run.seconds / len(allowed), 3)
        for n, (i, claim) in enumerate(allowed):
            if n < len(lines):
                results[i] = _verdict(claim, lines[n], share, run.isolation)
            else:
                results[i] = _failed(claim, run.status, run.stderr, share, run.isolation)
    return [results[i] for i in range(len(claims))]


def claim_seconds(sandbox: Sandbox, claims: int) -> float:
    """Each of `claims` claims' share of the sandbox's time, after sympy's import."""
    limits = sandbox.limits
    usable = min(limits.wall_seconds, float(limits.cpu_seconds)) - IMPORT_SECONDS
    return round(max(0.1, usable / max(1, claims)), 3)


def _failed(claim: str, status: str, stderr: str, seconds: float, isolation: str) -> CheckResult:
    reason = {"timeout": "the check took too long", "memory": "the check ran out of memory"}.get(status)
    last = [line for line in stderr.splitlines() if line.strip()]
    final = status if status in ("timeout", "refused") else "error"
    return CheckResult(claim, final, reason or (last[-1] if last else status), seconds, isolation)


def _verdict(claim: str, line: str, seconds: float, isolation: str) -> CheckResult:
    try:
        out = json.loads(line)
    except ValueError:
        return CheckResult(claim, "error", "the worker gave no result", seconds, isolation)
    kind = out.get("kind")
    if kind == "timeout":
        return CheckResult(claim, "timeout", "the check took too long", seconds, isolation)
    if kind == "comparison":
        holds = out.get("holds")
        status = {True: "true", False: "false"}.get(holds, "error")
        detail = f"left side {out.get('lhs')}, right side {out.get('rhs')}"
        if holds is None:
            detail = "undecidable: " + detail
        return CheckResult(claim, status, detail, seconds, isolation)
    if kind == "value":
        return CheckResult(claim, "value", str(out.get("value")), seconds, isolation)
    return CheckResult(claim, "refused" if kind == "refused" else "error", str(out.get("reason")), seconds, isolation)


def symbolic_equal(a: str, b: str, sandbox: Sandbox) -> bool | None:
    """Whether two expressions are equal for sympy (None when it cannot tell or may not run);
    each must be one expression by itself, not a comparison, so neither can close the other's
    parenthesis or make the claim a different one."""
    try:
        sides = validate(a), validate(b)
    except Refused:
        return None
    if any(isinstance(side.body, ast.Compare) for side in sides):
        return None
    result = run_check(f"({a}) == ({b})", sandbox)
    return {"true": True, "false": False}.get(result.status)
