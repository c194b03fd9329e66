"""`ponder tools python|check`: the reasoner's verifiers, run by hand.

Rule that must hold: the code and claims run exactly as the reasoner's do (the same
Sandbox, the same allow-list); results are JSON on stdout.
"""

from __future__ import annotations

import json
import sys

from ponder.errors import UsageError
from ponder.tools.sandbox import Limits, Sandbox


def read_source(file: str) -> str:
    """The code from a file, or from stdin for '-'."""
    try:
        data = sys.stdin.buffer.read() if file == "-" else open(file, "rb").read()
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{'stdin' if file == '-' else file} is not valid UTF-8") from None


def run_python_tool(file: str, mode: str, limits: Limits) -> int:
    """Run code in the sandbox, print the result; 0 when it ran cleanly, else 1."""
    result = Sandbox(mode, limits).run(read_source(file))
    print(json.dumps(result.to_dict(), ensure_ascii=True))
    return 0 if result.ok else 1


def run_check_tool(claim: str, mode: str, limits: Limits) -> int:
    """Evaluate one claim; 0 true or a value, 1 false or an error, 2 refused."""
    from ponder.tools.sympy_check import run_check

    result = run_check(claim, Sandbox(mode, limits))
    print(json.dumps(result.to_dict(), ensure_ascii=True))
    return {"true": 0, "value": 0, "refused": 2}.get(result.status, 1)
