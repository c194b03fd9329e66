"""Safe sympy claims: an `ast` allow-list, and the worker that evaluates inside the sandbox.

Rules that must hold:
- This file imports only the standard library at module level: the main process imports it
  to validate claims (never to evaluate them), and the sandbox runs it as a script.
- A claim is parsed with `ast` and accepted only if every node is on the allow-list:
  numbers (bounded length), symbols, + - * / // % **, comparisons, and calls of the
  functions in FUNCTIONS. An exponent is bounded by MAX_EXPONENT whatever its form (a sign,
  a product of constants, computed exactly), and holds no call or power; a power of powers
  (also through the sums and products of its base) is bounded by the product of their exponents. A claim validation cannot read is refused,
  never an exception of another kind. No attributes, subscripts, strings, lambdas, comprehensions,
  keywords or starred arguments. sympy objects are built from the tree node by node; no
  string is ever handed to sympify or parse_expr.
- Evaluation happens only in the sandbox (`python sympy_worker.py` with input.json).
- Each claim has its own deadline (input.json's "seconds", a share of the sandbox's wall
  limit): a claim past it is {"kind": "timeout"} and the claims after it still run.
"""

from __future__ import annotations

import ast
import json
import math
import re
from fractions import Fraction

MAX_CHARS = 500
MAX_NODES = 200
MAX_DIGITS = 100
MAX_EXPONENT = 1000
FUNCTIONS = (
    "solve", "simplify", "expand", "factor", "sqrt", "Rational", "Eq", "Abs", "abs", "exp", "log",
    "sin", "cos", "tan", "diff", "integrate", "gcd", "lcm", "factorial", "binomial", "floor",
    "ceiling", "Min", "Max", "nsimplify", "N",
)
CONSTANTS = ("pi", "E", "I", "oo")
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub, ast.UAdd,
              ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.Name, ast.Constant,
          ast.Tuple, ast.List, ast.Load, *_OPERATORS)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
RELATIVE_TOLERANCE = 1e-4  # for claims with decimal literals, which models round


class Refused(ValueError):
    """The claim is outside what may be evaluated."""


_IMPLICIT = re.compile(r"(?<=[0-9)])(?=[A-Za-z(])(?![eE][-+]?\d)")  # 3x, 2(x+1), (x+1)(x-1); not 3e5


def prepare(claim: str) -> str:
    """Normalise a claim's notation: ^ is power, a lone = is equality, 3x is 3*x."""
    text = claim.strip().rstrip(".").replace("^", "**").replace("×", "*").replace("÷", "/").replace("−", "-")
    return _IMPLICIT.sub("*", re.sub(r"(?<![=<>!])=(?!=)", "==", text))


def validate(claim: str) -> ast.Expression:
    """Parse a claim and check it against the allow-list; raise Refused otherwise."""
    if len(claim) > MAX_CHARS:
        raise Refused(f"claim longer than {MAX_CHARS} characters")
    try:
        tree = ast.parse(prepare(claim), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise Refused(f"not an expression: {type(exc).__name__}") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise Refused(f"claim has more than {MAX_NODES} parts")
    try:
        for node in nodes:
            _check_node(node)
    except Refused:
        raise
    except (ArithmeticError, ValueError, TypeError, RecursionError, MemoryError) as exc:  # never a crash of the caller
        raise Refused(f"the claim cannot be checked: {type(exc).__name__}") from None
    return tree


def _check_node(node: ast.AST) -> None:
    if not isinstance(node, _NODES):
        raise Refused(f"{type(node).__name__} is not allowed")
    if isinstance(node, ast.Constant):
        _check_number(node.value)
    elif isinstance(node, ast.Name):
        if not _NAME.match(node.id):
            raise Refused(f"name {node.id!r} is not allowed")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise Refused("only calls of known sympy functions are allowed")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise Refused("keyword and starred arguments are not allowed")
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        exponent = node.right
        if any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in ast.walk(exponent)):
            raise Refused("power towers are not allowed")
        if isinstance(exponent, ast.Constant):
            _check_number(exponent.value)  # before abs(): x**'2' is refused, not a TypeError
        if _size_bound(exponent) > MAX_EXPONENT:
            raise Refused(f"exponent larger than {MAX_EXPONENT}")
        if _tower_bound(node) > MAX_EXPONENT:  # ((2**1000)**1000)**1000 is 2**(10**9)
            raise Refused(f"a power of a power with exponents whose product is larger than {MAX_EXPONENT}")


Bound = Fraction | float  # exact, or math.inf


def _size_bound(node: ast.AST) -> Bound:
    """A bound on an exponent's size, exact (a Fraction), or math.inf past MAX_EXPONENT; a name
    counts as 1 (sympy may simplify n*0 away). A sign or an arithmetic of constants
    (2**+99999999999, 2**(999*999*999), 1e308*1e308*0 + 5000) is no way past MAX_EXPONENT; a
    call or a power in an exponent is unbounded."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return math.inf
        return _capped(abs(Fraction(value)))
    if isinstance(node, ast.Name):
        return Fraction(1)
    if isinstance(node, ast.UnaryOp):
        return _size_bound(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        return _combined(_size_bound(node.left), _size_bound(node.right), lambda a, b: a + b)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return _combined(_size_bound(node.left), _size_bound(node.right), lambda a, b: a * b)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.FloorDiv)):
        divisor = node.right.operand if isinstance(node.right, ast.UnaryOp) else node.right
        if isinstance(divisor, ast.Name) or (isinstance(divisor, ast.Constant) and _size_bound(divisor) >= 1):
            return _size_bound(node.left)  # a quotient by a name or a number of at least 1 is no larger
        return math.inf  # 3/(1/10**12): a quotient by a small number is unbounded
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _size_bound(node.right)  # a remainder is smaller than its divisor
    return math.inf


def _tower_bound(node: ast.AST) -> Bound:
    """How many times a power multiplies the powers inside its base: (a**b)**c is a**(b*c), and
    so is (a**b * 3 + 1)**c; the largest over a base's terms and factors."""
    if isinstance(node, ast.UnaryOp):
        return _tower_bound(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        return _combined(_size_bound(node.right), _tower_bound(node.left), lambda a, b: a * b)
    if isinstance(node, ast.BinOp):
        return max(_tower_bound(node.left), _tower_bound(node.right))
    return Fraction(1)


def _combined(a: Bound, b: Bound, op) -> Bound:  # type: ignore[no-untyped-def]
    """op of two bounds, unbounded when either is (so inf * 0 is never a small number)."""
    return math.inf if math.inf in (a, b) else _capped(op(a, b))


def _capped(value: Fraction) -> Bound:
    return math.inf if value > MAX_EXPONENT else value


def _check_number(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Refused("only numbers are allowed as literals")
    if isinstance(value, float) and not math.isfinite(value):
        raise Refused("numbers must be finite")
    if isinstance(value, int) and len(str(abs(value))) > MAX_DIGITS:
        raise Refused(f"numbers longer than {MAX_DIGITS} digits are not allowed")


# ---- inside the sandbox only ------------------------------------------------------------


def evaluate(tree: ast.Expression) -> dict:
    """Evaluate a validated claim with sympy (sandbox only)."""
    import sympy

    build = _Builder(sympy)
    body = tree.body
    if isinstance(body, ast.Compare) and len(body.ops) == 1:
        lhs, rhs = build(body.left), build(body.comparators[0])
        holds = _holds(sympy, body.ops[0], lhs, rhs)
        if holds is False and isinstance(body.ops[0], ast.Eq) and _has_decimal(tree):
            holds = _close(sympy, lhs, rhs)
        return {"kind": "comparison", "holds": holds, "lhs": str(sympy.simplify(lhs)), "rhs": str(sympy.simplify(rhs))}
    value = build(body)
    if isinstance(value, (list, tuple, dict)):
        return {"kind": "value", "value": str(value)}
    return {"kind": "value", "value": str(sympy.simplify(value))}


def _has_decimal(tree: ast.AST) -> bool:
    return any(isinstance(n, ast.Constant) and isinstance(n.value, float) for n in ast.walk(tree))


def _close(sympy, lhs, rhs) -> bool:  # type: ignore[no-untyped-def]
    """Equal up to rounding: both sides numbers within RELATIVE_TOLERANCE."""
    if getattr(lhs, "free_symbols", None) or getattr(rhs, "free_symbols", None):
        return False
    a, b = complex(sympy.N(lhs)), complex(sympy.N(rhs))
    return abs(a - b) <= RELATIVE_TOLERANCE * max(1.0, abs(a), abs(b))


def _holds(sympy, op: ast.cmpop, lhs, rhs):  # type: ignore[no-untyped-def]
    if isinstance(op, ast.Eq):
        return bool(sympy.simplify(lhs - rhs) == 0)
    if isinstance(op, ast.NotEq):
        return bool(sympy.simplify(lhs - rhs) != 0)
    relation = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge}[type(op)](lhs, rhs)
    return bool(relation) if relation in (sympy.true, sympy.false) else None


class _Builder:
    """Turns an allowed tree into sympy objects, node by node."""

    def __init__(self, sympy) -> None:  # type: ignore[no-untyped-def]
        self.sp = sympy
        self.symbols: dict[str, object] = {}
        self.functions = {name: getattr(sympy, name) for name in FUNCTIONS if hasattr(sympy, name)}
        self.functions["abs"] = sympy.Abs
        self.constants = {"pi": sympy.pi, "E": sympy.E, "I": sympy.I, "oo": sympy.oo}

    def __call__(self, node: ast.AST):  # type: ignore[no-untyped-def]
        sp = self.sp
        if isinstance(node, ast.Constant):
            return sp.Integer(node.value) if isinstance(node.value, int) else sp.Rational(repr(node.value))
        if isinstance(node, ast.Name):
            if node.id in self.constants:
                return self.constants[node.id]
            return self.symbols.setdefault(node.id, sp.Symbol(node.id))
        if isinstance(node, ast.UnaryOp):
            value = self(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            return self._binop(node.op, self(node.left), self(node.right))
        if isinstance(node, (ast.Tuple, ast.List)):
            return [self(e) for e in node.elts]
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1 or not isinstance(node.ops[0], ast.Eq):
                raise Refused("only one equation at a time inside a call")
            return sp.Eq(self(node.left), self(node.comparators[0]))
        if isinstance(node, ast.Call):
            return self.functions[node.func.id](*[self(a) for a in node.args])
        raise Refused(f"{type(node).__name__} is not allowed")

    def _binop(self, op: ast.operator, a, b):  # type: ignore[no-untyped-def]
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            return a / b
        if isinstance(op, ast.FloorDiv):
            return self.sp.floor(a / b)
        if isinstance(op, ast.Mod):
            return self.sp.Mod(a, b)
        return a**b


def check_one(claim: str) -> dict:
    """Validate and evaluate one claim, as a JSON-ready result (sandbox only)."""
    try:
        return evaluate(validate(claim))
    except Refused as exc:
        return {"kind": "refused", "reason": str(exc)}
    except (ValueError, TypeError, ZeroDivisionError, NotImplementedError, AttributeError, RecursionError) as exc:
        return {"kind": "error", "reason": f"{type(exc).__name__}: {exc}"[:300]}


class _PastDeadline(Exception):
    """A claim ran past its own deadline."""


def _past_deadline(signum: int, frame: object) -> None:
    raise _PastDeadline


def check_in_time(claim: str, seconds: float | None) -> dict:
    """`check_one`, stopped with {"kind": "timeout"} after `seconds` (sandbox only)."""
    import signal

    if not seconds or seconds <= 0:
        return check_one(claim)
    previous = signal.signal(signal.SIGALRM, _past_deadline)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        return check_one(claim)
    except _PastDeadline:
        return {"kind": "timeout", "reason": "the check took too long"}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def main() -> None:
    """Sandbox entry: read {"claims": [...], "seconds": s} from the file named in argv; print one
    JSON line per claim."""
    import sys

    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    import sympy  # noqa: F401  (before any claim's clock starts: the import is no claim's time)

    for claim in data["claims"]:
        print(json.dumps(check_in_time(claim, data.get("seconds"))), flush=True)


if __name__ == "__main__":
    main()
