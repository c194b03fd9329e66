"""`ponder tools python|check`: the reasoner's verifiers, run by hand.

Rules that must hold:
- The code and claims run exactly as the reasoner's do (the same Sandbox, the same
  allow-list); results are JSON on stdout.
- The program is read through `ponder.inputs`: a regular file or '-' (stdin), at most
  MAX_CODE_BYTES, UTF-8; a claim is a UTF-8 argument. Anything else is one line, exit 2.
"""

from __future__ import annotations

import json

from ponder import inputs
from ponder.tools.sandbox import Limits, Sandbox


def read_source(file: str) -> str:
    """The code from a regular file, or from stdin for '-', bounded and decoded."""
    data = inputs.read_source(file, inputs.MAX_CODE_BYTES, "program")
    return inputs.decode_utf8(data, "the program on stdin" if file == "-" else f"program {file}")


def run_python_tool(file: str, mode: str, limits: Limits) -> int:
    """Run code in the sandbox, print the result; 0 when it ran cleanly, else 1."""
    result = Sandbox(mode, limits).run(read_source(file))
    print(json.dumps(result.to_dict(), ensure_ascii=True))
    return 0 if result.ok else 1


def run_check_tool(claim: str, mode: str, limits: Limits) -> int:
    """Evaluate one claim; 0 true or a value, 1 false or an error, 2 refused."""
    from ponder.tools.sympy_check import run_check

    result = run_check(inputs.argument_text(claim, "the claim"), Sandbox(mode, limits))
    print(json.dumps(result.to_dict(), ensure_ascii=True))
    return {"true": 0, "value": 0, "refused": 2}.get(result.status, 1)
