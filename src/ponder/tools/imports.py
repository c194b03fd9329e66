"""The import a program forgot: a program that calls `gcd(...)` or `math.sqrt(...)` without
importing it fails with a NameError, and the line that would have imported it is known.

Rules that must hold:
- Only the names in `IMPORTS` are repaired: modules of the standard library the sandbox
  has, sympy, and the functions of `math`, `fractions`, `itertools`, `statistics` and sympy
  that programs call bare. Any other undefined name is the program's own error, and so is a
  one-letter name (an undefined `e` may be a slip for the program's own variable, and
  `math.e` would then be a wrong number, not a failure).
- A repair prepends one import line and changes nothing else of the code; the code with its
  imports is what runs and what the trace shows, so nothing runs that is not shown.
- The error is read from the traceback's last line only, as text; nothing is evaluated.
"""

from __future__ import annotations

import re

MAX_REPAIRS = 3  # imports added to one program at most; each repair is one more sandbox run

_MODULES = ("math", "cmath", "fractions", "decimal", "itertools", "functools", "statistics",
            "datetime", "calendar", "collections", "random", "re", "string", "sympy")
_FROM = {
    "math": ("gcd", "lcm", "sqrt", "isqrt", "factorial", "comb", "perm", "ceil", "floor", "pi",
             "log", "log2", "log10", "exp", "sin", "cos", "tan", "radians", "degrees", "prod", "hypot"),
    "fractions": ("Fraction",),
    "decimal": ("Decimal",),
    "itertools": ("combinations", "permutations", "product"),
    "statistics": ("mean", "median", "mode"),
    "sympy": ("symbols", "Symbol", "solve", "Eq", "simplify", "Rational", "isprime", "primerange"),
}
IMPORTS: dict[str, str] = {
    **{name: f"from {module} import {name}" for module, names in _FROM.items() for name in names},
    **{module: f"import {module}" for module in _MODULES},
    "sp": "import sympy as sp",
}
_NAME_ERROR = re.compile(r"NameError: name '([A-Za-z_]\w*)' is not defined\.?")


def missing_import(stderr: str) -> str | None:
    """The import line a failed run's NameError asks for ('from math import gcd'), or None."""
    lines = stderr.strip().splitlines()
    found = _NAME_ERROR.match(lines[-1].strip()) if lines else None
    return IMPORTS.get(found.group(1)) if found else None


def with_import(code: str, line: str) -> str:
    """The code with one import line before it."""
    return f"{line}\n{code}"
