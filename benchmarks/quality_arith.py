"""Benchmark (offline, on the quality pool): do the arithmetic lines of a chain of thought
('45 + 16 + 18 = 89') give the cascade an objective signal worth having?

Each chain's plain-arithmetic equalities are recomputed exactly; a chain with a false one is
flagged. Replays of the default cascade (`--samples 6`) over the pool, against the pool as
decoded: flagged chains' votes discounted (× 0.5, × 0); the final sum repaired (where the
chain's answer is the claimed value of its last false line, the true value replaces it); both.

Rules that must hold:
- Model text is never evaluated: `ponder.tools.answers.arithmetic_value` walks the `ast` of
  numbers and + - * / only, on Fractions.
- Precision before recall: a line is read only when both sides are plain numbers (a variable,
  a percent or a power next to them and the pair is skipped), so a flag means a real slip.
- Nothing reads the reference except the scoring; no model is loaded.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arguments  # noqa: E402
import quality  # noqa: E402
from quality_exec import SLICES, cascade_right  # noqa: E402

OUT = quality.RESULTS / "arith.md"
LATEX = (
    (re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}"), lambda m: f"{_grouped(m[1])}/{_grouped(m[2])}"),
    (re.compile(r"\\(?:times|cdot)"), "*"),
    (re.compile(r"\\div"), "/"),
    (re.compile(r"\\(?:text|mathrm|textbf)\{[^{}]*\}"), " "),
    (re.compile(r"\\[\[\]()]|\\[,!;]|\\\$|\$"), " "),
    (re.compile(r"\\(?:left|right)"), ""),
    (re.compile(r"\*\*"), "^"),  # markdown bold or a power: the line is skipped
)
LEFT = re.compile(r"[\d\s.,+\-*/×÷()]+$")  # the plain arithmetic that ends the left side
RIGHT = re.compile(r"^\s*(-?\d[\d,]*(?:\.\d+)?)(?![\d,:]|\.\d|[A-Za-z(]|\s*[-+*/×÷^(])")  # a lone number


@dataclass(frozen=True)
class Claim:
    """One 'arithmetic = number' equality written in a chain."""

    line: str
    expression: str
    value: Fraction
    claimed: Fraction
    shown: str

    @property
    def holds(self) -> bool:
        """Exactly, or as the shown number rounds or cuts the true value (to its decimals, or 0.1%)."""
        if self.value == self.claimed:
            return True
        if self.value.denominator == 1:
            return False
        decimals = len(self.shown.split(".")[1]) if "." in self.shown else 0
        off = abs(self.value - self.claimed)
        return off < Fraction(1, 10**decimals) or off <= abs(self.value) / 1000


def _grouped(text: str) -> str:
    return text if re.fullmatch(r"\s*[\d.,]+\s*", text) else f"({text})"


def plain(line: str) -> str:
    """The line with LaTeX arithmetic written plainly (\\times → *, \\frac{a}{b} → a/b)."""
    for pattern, replacement in LATEX:
        line = pattern.sub(replacement, line)
    return line


def claims(text: str) -> list[Claim]:
    """Every equality in the text whose left side ends in plain arithmetic and whose right
    side is a lone number."""
    from ponder.tools.answers import arithmetic_value, parse_number

    found = []
    for raw in text.splitlines():
        line = plain(raw)
        if "%" in line or "^" in line:
            continue
        sides = line.split("=")
        for left, right in zip(sides, sides[1:]):
            tail, head = LEFT.search(left), RIGHT.match(right)
            expression = tail.group(0).strip().strip(",") if tail else ""
            if not head or not expression or expression[0] in "+-*/×÷)":  # '3x + 38 + 62', '- 300 + 150'
                continue
            shown = head.group(1).replace(",", "")
            value, claimed = arithmetic_value(expression), parse_number(shown)
            if value is not None and claimed is not None:
                found.append(Claim(raw.strip(), " ".join(expression.split()), value, claimed, shown))
    return found


def false_claims(row: dict) -> list[Claim]:
    """The equalities of a chain of thought that do not hold (none for a program)."""
    return [c for c in claims(row["text"]) if not c.holds] if row["route"] == "reason" else []


def repaired(row: dict) -> dict:
    """The row with its answer recomputed where the answer is the claimed value of its last
    false equality; otherwise the row as it is."""
    from ponder.tools.answers import equivalent, format_number

    slips = false_claims(row)
    if not slips or not row["answer"] or not equivalent(row["answer"], format_number(slips[-1].claimed)):
        return row
    answer = format_number(slips[-1].value)
    return {**row, "answer": answer, "correct": equivalent(answer, row["reference"]), "repaired": True}


def main() -> None:
    arguments.parser(__doc__).parse_args()
    from ponder.machine import machine_info

    pool = quality.read_pool(quality.RESULTS / "pool.jsonl")
    by_item: dict = {}
    for (item_id, n), row in pool.items():
        by_item.setdefault(item_id, {})[n] = row
    fixed = {i: {n: repaired(r) for n, r in routes.items()} for i, routes in by_item.items()}
    chains = [r for routes in by_item.values() for r in routes.values() if r["route"] == "reason"]
    slipped = [r for r in chains if false_claims(r)]
    changed = [(r, fixed[r["id"]][r["n"]]) for r in slipped if fixed[r["id"]][r["n"]].get("repaired")]

    def unrepaired_slip(row: dict) -> bool:
        return bool(false_claims(row)) and not row.get("repaired")

    right_slipped = sum(r["correct"] for r in slipped)
    agreeing_slips = sum(bool(false_claims(row)) and quality._greedy_agree(pool, i)
                         for (i, n), row in pool.items() if n == 0)
    machine = machine_info()
    lines = [
        "# Arithmetic lines of the chains: checked exactly, as a vote discount or a repair",
        "",
        f"- date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}; commit: {quality._commit()}; "
        f"machine: {machine['cpu']}, {machine['cores']} cores; model: default (the quality pool, no decoding)",
        "- command: `python benchmarks/quality_arith.py`",
        f"- chains of thought in the pool (greedy and sampled): {len(chains)}; equalities read: "
        f"{sum(len(claims(r['text'])) for r in chains)}; chains with a false one: {len(slipped)}, right "
        f"{right_slipped}; the others right {sum(r['correct'] for r in chains) - right_slipped} "
        f"of {len(chains) - len(slipped)}",
        f"- answer was the last false line's value and is recomputed: {len(changed)}; fixed "
        f"{sum(new['correct'] and not old['correct'] for old, new in changed)}, broken "
        f"{sum(old['correct'] and not new['correct'] for old, new in changed)}",
        "- greedy chains with a false line where the two greedy routes agree (a failed check the cascade "
        f"would act on): {agreeing_slips}",
        "",
        "| items of the shuffle | cascade as decoded | flagged chains' vote × 0.5 | × 0 | final line repaired "
        "| repaired, the rest × 0 |",
        "|---|---|---|---|---|---|",
    ]
    for offset, count in SLICES:
        base = cascade_right(by_item, offset, count)
        half = cascade_right(by_item, offset, count, 0.5, lambda r: bool(false_claims(r)))
        zero = cascade_right(by_item, offset, count, 0.0, lambda r: bool(false_claims(r)))
        repair = cascade_right(fixed, offset, count)
        both = cascade_right(fixed, offset, count, 0.0, unrepaired_slip)
        lines.append(f"| {offset}..{offset + count - 1} ({base[1]} complete) | {base[0]} | {half[0]} | {zero[0]} "
                     f"| {repair[0]} | {both[0]} |")
    lines += ["", "Examples of false lines (first 12 chains):", ""]
    lines += [f"- `{r['id']}` route {r['n']}: `{c.expression} = {c.shown}` (is {float(c.value):g})"
              for r in slipped[:12] for c in false_claims(r)[:1]]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(OUT.read_text(encoding="utf-8"))


if __name__ == "__main__":
    arguments.run(main)
