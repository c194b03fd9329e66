"""Answer extraction and equivalence: the one module the verify factor, voting, review and
evaluation all use to decide what an answer is and whether two answers agree.

Rules that must hold:
- Pure functions of text: no model, no I/O, no eval and no sympify here (plain arithmetic on
  numbers is computed on Fractions by walking its `ast`, bounded in length);
  symbolic equality is delegated to a checker the caller passes in (it runs in the sandbox).
- Numbers are compared as exact fractions first, then with a relative tolerance; the
  canonical form of a number drops thousands separators, currency, percent signs, units and
  trailing zeros ("$1,200.50" -> "1200.5"); scientific notation is a number ("3.91e2" -> 391).
  Digits past MAX_NUMBER_CHARS are no number: model text never makes reading an answer fail.
- A number written with two or more decimals agrees with a value that rounds to it at that
  many places ("37.78" and 37.7777...; "0.33" and 1/3), never one with fewer ("5" is not 5.4);
  a value half-way between agrees with both ("1157.63" and "1157.62" with 1157.625).
  Only decimals written in the text round: a fraction is exact ("3/8" is 0.375, never
  125/333). Two different numbers the question gives are two answers however close they are
  ("3/7" and "0.43" to "Which is larger, 3/7 or 0.43?"), and a decimal the question gives
  is exact ("0.375" to "Convert 0.375 to a fraction" is not 125/333), when the caller passes
  them (`given`).
- A percent sign is a unit, like "$" or "cm": "25%" and "25" agree (GSM8K asks "what
  percent..." and answers 25); it never means a division by 100.
- A list of solutions ("x = 2 or x = 3", "3 and 2", "{2, 3}", "[3.0, 2.0]", a printed
  "3.0 2.0") is a set (kind "set"), written sorted ("2, 3"), so the order it was found in
  does not matter; one value with its variable ("x = 5") is that number. Parentheses are a
  point, never a set, and a system's solution is one too: two or more different variables
  ("x = 7, y = 3", a printed {x: 7, y: 3} or lines "x = 7", "y = 3") are the tuple "(7,3)",
  ordered by name (`tuples`), so x = 3, y = 7 is another answer. A program's answer is its last printed line, except to a question that
  asks for the solutions of an equation (`questions.asks_for_solutions`: "solve",
  "roots"... and a formula in x, y or z; no GSM8K training question has one): there the
  values its last lines print one per line are the set ("3.0", "2.0" -> "2, 3"). To a
  question that asks for no quantity, a printed line of up to four words with no number
  ("Saturday") is that text; a longer sentence ("No valid solution with the given
  information.") is no answer, and so is a word printed with no question to read it by.
- A text that is only a formula in one-letter variables ("3*x**2 + 2", a program's printed
  sympy result) is that expression; one with words in it ("Result - 5") is read as before.
  LaTeX is read as the formula it writes: \\frac (after a whole number, a proper fraction is a
  mixed number: 6\\frac{1}{4} is 6.25), \\sqrt, \\left( \\right), \\sin x as
  sin(x), x\\cos(x) as x*cos(x), \\ln as log, \\infty as sympy's oo (shown as ∞); a LaTeX
  command is never words. An antiderivative's "+ C" is no part of the comparison
  (sympy prints x**2 for the integral of 2x). "a ± b" is the set of both branches; a printed
  list of formulas ("[1 - sqrt(2), 1 + sqrt(2)]") is a set, and two sets agree member by
  member by sympy. A printed complex number is sympy's ("-1j" is -I, never -1), and a
  chain's lone i is sympy's I when compared with a formula that holds I.
- A time of day (kind "time") is read on a 24-hour clock: "6:15 PM", "6:15 p.m." and a
  program's printed "18 : 15" are "18:15" and agree; "6:15" with no am/pm is 6:15, and
  agrees with 18:15 too (it may be either); minutes past 59 are no time. It is shown as it
  was written.
- A duration of two or more units (kind "duration": "4 hours 25 minutes", "4 h and 25 min", a
  program's printed "4 hours 25 minutes", `durations`) is written canonically and agrees with
  its length in hours, minutes or seconds as a number ("265", "4.42"); a lone "25 minutes" is
  the number 25, as before. To a question asking how long (`questions.asks_how_long`), a
  clock with no am or pm is a duration: "2:35" is 2 hours 35 minutes and agrees with 155.
- A truth value is "yes" or "no" (kind "text"): "Yes", "True", "No, 91 = 7 x 13" and a
  program's printed `False` read as one, so a chain's "no" and a program's `False` agree. A
  text that only starts with the word ("No one came", "Yes it is") stays text. To a question
  that asks which or what (`questions.asks_which_or_what`: "Which is larger, 3/7 or 5/11?") a
  truth value is no answer (`as_asked`), so a program's printed `3/7 > 5/11` casts no vote.
- A chain answers with its last box, except to a question asking for an amount for each
  (`questions.asks_for_each`): there the different numbers boxed on the last box's line are
  its answer, a set ("Tom gets \\boxed{40} and Ann gets \\boxed{60}" is "40, 60"). A last box
  that never closes holds, where the text ends on its line (cut off), what follows it there
  when that is whole ("\\boxed{\\frac{1}{2}" is 0.5), else nothing ("\\boxed{\\frac{1}{" is
  not 1); the lines after an unclosed box are read as before (a later "Answer: 12").
  A set of numbers written as a plain list is shown (`as_written`) in the order written ("60, 40"
  for Tom's, then Ann's), though it compares as the sorted set.
"""

from __future__ import annotations

import ast
import itertools
import operator
import re
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from fractions import Fraction
from typing import Callable

from ponder.tools.durations import UNIT_SECONDS, duration_seconds, format_duration
from ponder.tools.questions import (
    asks_for_each, asks_for_solutions, asks_how_long, asks_which_or_what, asks_yes_or_no, expects_number, offered_numbers,
)
from ponder.tools.tuples import ordered_values

_NUMBER = r"[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?|[-−]?\.\d+"
_NUMBER_RE = re.compile(_NUMBER)
# a number as the last one of a text is read: with its exponent, so '6.02e23' is not 23
_LAST_NUMBER_RE = re.compile(rf"(?:{_NUMBER})(?:[eE][-+]?\d{{1,3}}(?!\w))?")
# a label before a stated answer: 'Answer: 391', 'Candidate answer: 391', 'The final answer is 7'
_ANSWER_LABEL = re.compile(
    r"^\s*(?:the\s+)?(?:final\s+|candidate\s+|proposed\s+)?answer(?:\s+is\b\s*[:：]?|\s*[:：])\s*(?=\S)", re.I)
MAX_AMOUNTS = 8  # boxes on one line that can be amounts for each
MAX_NUMBER_CHARS = 1000  # Python will not even write an int of over 4,300 digits
# A terminal escape sequence (CSI, OSC, or ESC and one character; the 7-bit forms and the
# 8-bit C1 ones, U+009B for CSI, U+009D for OSC), or a lone C1 control, as model text may hold one.
_ESCAPE = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
                     r"|\x1b.?|[\x80-\x9f]", re.S)
_EXPONENT = r"(?:[eE][-+]?\d{1,3})?"  # 3.91e2; at most three digits, so no number is astronomically long
_ONLY_NUMBER = re.compile(rf"^\s*((?:{_NUMBER}){_EXPONENT})\s*$")
_TAG = re.compile(r"<answer>(.*?)(?:</answer>|\Z)", re.S | re.I)
_ANSWER_LINE = re.compile(r"(?:final answer|answer)\s*[:：]\s*(.+)", re.I)
_ANSWER_IS = re.compile(r"the (?:final )?answer is\s*[:：]?\s*(.+)", re.I)
_CURRENCY = re.compile(r"[$€£¥]|\\\$|\b(?:USD|EUR|GBP)\b")
_FRAC = re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}")
_SOLUTIONS = re.compile(r"\s*(?:;|,(?!\d{3}\b)|\band\b|\bor\b)\s*")  # not the comma of 1,000
_VARIABLE = re.compile(r"^\s*[A-Za-z][\w{}]*\s*=\s*")  # "x = ", "x_{1} = "
_FRACTION = re.compile(r"^\(\s*(-?\d+)\s*\)/\(\s*(\d+)\s*\)$")  # what _strip_latex makes of \frac{1}{2}
_FORMULA = re.compile(r"[\w\s.+\-*/^()]+")
_SYMBOL = re.compile(r"[A-Za-z](?:_?\d+)?|sqrt|exp|log|sin|cos|tan|pi|oo")  # x, x_1, sqrt, pi: no words
_SQRT = re.compile(r"\\sqrt\{([^{}]*)\}")
# x\sin(x) is x*sin(x); \cos x is cos(x)
_LATEX_FUNCTION = re.compile(r"([\w)}]\s*)?\\(sin|cos|tan|exp|log|ln)(?![A-Za-z])(?:\s*([A-Za-z]|\d+)(?![\w(.]))?")
_FUNCTION_NAMES = {"ln": "log"}
# a time of day: 6:15, 6:15 pm, 18 : 15 (print(h, ":", m)); minutes 00-59
_CLOCK = r"\b(\d{1,2})\s*:\s*([0-5]\d)(?!\d)(?:\s*([ap])\.?\s*m\b\.?)?"
_CLOCK_RE = re.compile(_CLOCK, re.I)
_CONSTANT = re.compile(r"\+C$")  # an antiderivative's constant: "x^2+C" is sympy's x**2
_PRINTED_VALUES = re.compile(r"-?[\d.]+(?:[ \t]+-?[\d.]+)+")
_TRUTH = re.compile(r"^(yes|no|true|false)(?:\s*[,;:!.].*)?$", re.I | re.S)
_TRUTH_WORD = re.compile(r"(?:yes|no|true|false)[.!]?", re.I)
TRUTH_VALUES = {"yes": "yes", "true": "yes", "no": "no", "false": "no"}


@dataclass(frozen=True)
class ExtractedAnswer:
    """An answer as written, its canonical form, and what kind of thing it is."""

    text: str
    normalized: str
    kind: str  # "number", "set", "expression", "time", "text" or "none"


NO_ANSWER = ExtractedAnswer("", "", "none")


def extract_answer(text: str) -> ExtractedAnswer:
    """Find the final answer in model text: <answer>, \\boxed{}, 'Answer:', 'the answer is', a text
    that is only yes/no/true/false, a list of numbers or a formula, or the last number."""
    text = _close_last_box(_ESCAPE.sub("", text))  # a terminal sequence's digits are no number of the answer
    for finder in (_from_tag, _from_boxed, _from_line, _from_answer_is):
        found = finder(text)
        if found is not None and found.strip():
            return normalize_answer(found)
    whole = text.strip()  # a program's printed line: False, [3.0, 2.0], 3*x**2 + 2
    if _PRINTED_VALUES.fullmatch(whole):  # print(a, b): the values side by side
        whole = ", ".join(whole.split())
    if (_TRUTH_WORD.fullmatch(whole) or len(_values(_strip_latex(whole)) or ()) > 1 or _bare_expression(whole)
            or ordered_values(whole) is not None or duration_seconds(whole) is not None):
        return normalize_answer(whole)
    listed = _listed(whole)
    if listed and all(_bare_expression(m, operator=False) or parse_number(m) is not None for m in listed):
        return _as_set(whole, [_member(m) for m in listed], fallback=re.sub(r"\s+", "", whole))
    numbers = list(_LAST_NUMBER_RE.finditer(text))
    if not numbers:
        return NO_ANSWER
    last = numbers[-1]
    clocks = [c for c in _CLOCK_RE.finditer(text) if c.start() <= last.start() < c.end() and _clock_time(c.group())]
    return normalize_answer(clocks[0].group() if clocks else last.group())


def printed_answer(stdout: str, question: str = "") -> ExtractedAnswer:
    """The answer a program printed: its last non-empty line, read as an answer (to a question
    that asks for no quantity, a line of up to four words, "Saturday", is that text); to a question
    that asks for solutions, the values its last lines print one per line ("3.0", "2.0" -> 2, 3).
    A complex number is read as sympy writes it ("-1j" -> -I), never as the real number -1."""
    printed = [line.strip() for line in _ESCAPE.sub("", stdout).splitlines() if line.strip()]
    if not printed:
        return NO_ANSWER
    lines = [_PYTHON_COMPLEX.sub(_as_sympy_complex, line) for line in printed]
    if asks_for_solutions(question):
        values = list(itertools.takewhile(_is_value, (_VARIABLE.sub("", line) for line in reversed(lines))))
        named = ", ".join(lines[len(lines) - len(values):])  # "x = 7", "y = 3": one solution of a system
        if len(values) > 1 and ordered_values(named) is not None:
            return normalize_answer(named)
        if len(values) > 1:
            return _as_set(", ".join(reversed(values)), [_member(v) for v in values], fallback=printed[-1])
    if lines[-1] != printed[-1]:
        return _member(lines[-1])
    found = extract_answer(lines[-1])
    words = found.kind == "none" and question and not expects_number(question) and _PRINTED_WORDS.fullmatch(printed[-1])
    return normalize_answer(printed[-1]) if words else found


# a program's answer in a few words ("Saturday", "Paris", "red, blue"); a sentence is no answer
_PRINTED_WORDS = re.compile(r"[A-Za-z][A-Za-z'’-]*(?:[ ,]+[A-Za-z][A-Za-z'’-]*){0,3}")


def _is_value(text: str) -> bool:
    """Whether a printed line (its variable dropped) is one value: a number or a formula ('I', 'sqrt(2)')."""
    return parse_number(text) is not None or _bare_expression(text, operator=False)


_PYTHON_COMPLEX = re.compile(r"^\(?(?:(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)(?=[-+]))?([-+]?\d*(?:\.\d+)?(?:e[-+]?\d+)?)j\)?$")


def _as_sympy_complex(match: re.Match[str]) -> str:
    """A complex number as Python prints it ('-1j', '(1+2j)') as sympy writes it ('-I', '1 + 2*I')."""
    real, imaginary = match.group(1), match.group(2).lstrip("+")
    imaginary = {"": "1", "-": "-1"}.get(imaginary, imaginary)
    unit = {"1": "I", "-1": "-I"}.get(imaginary, f"{imaginary}*I")
    if not real or float(real) == 0:
        return unit
    return f"{real} + {unit}" if not unit.startswith("-") else f"{real} - {unit[1:]}"


def as_asked(answer: ExtractedAnswer, question: str) -> ExtractedAnswer:
    """An answer with no number at all, to a question that asks for a quantity, is no answer; nor
    is a number, to a question asking yes or no ("Is 97 prime?" -> "97"; "Is 0.1 + 0.2 equal to
    0.3?" -> "0.30000000000000004"); nor yes or no, to a question asking which or what (a program's
    printed False to "Which is larger, 3/7 or 5/11?"). A clock with no am or pm, to a question
    asking how long, is a length of time ("2:35" -> 2 hours 35 minutes). A number that is one of
    the two a question asking which of them names is that number as the question writes it (a
    printed 0.1111111111111111 to "Which is smaller, 0.125 or 1/9?" is 1/9)."""
    if answer.kind in ("text", "expression") and expects_number(question) and not re.search(r"\d", answer.normalized):
        return NO_ANSWER
    if answer.kind == "number" and asks_yes_or_no(question):
        return NO_ANSWER
    if answer.kind == "text" and answer.normalized in TRUTH_VALUES.values() and asks_which_or_what(question):
        return NO_ANSWER
    if answer.kind == "time" and not _HALF_OF_DAY.search(answer.text) and asks_how_long(question):
        hours, minutes = map(int, answer.normalized.split(":"))
        return ExtractedAnswer(answer.text, format_duration(Fraction(hours * 3600 + minutes * 60)), "duration")
    if answer.kind == "number":
        return _as_offered(answer, offered_numbers(question))
    return answer


def _as_offered(answer: ExtractedAnswer, offered: tuple[str, ...]) -> ExtractedAnswer:
    """The offered number (as written: '1/9') that a number is, to within a float's rounding; else the number."""
    value = parse_number(answer.normalized)
    for written in offered:
        given = parse_number(written.replace("−", "-"))
        if value is not None and given is not None and abs(value - given) <= Fraction(1, 10**9) * max(1, abs(given)):
            return ExtractedAnswer(written, format_number(given), "number")
    return answer


def chain_answer(text: str, question: str) -> ExtractedAnswer:
    """A chain of thought's answer: what it states last, as the question asks (`as_asked`). A text
    with no number (but the numbers of its steps) and no stated answer, to a question with no
    number that asks for no quantity, is its own answer (a haiku, a definition); "I cannot tell"
    to "What is 16 - 3?" is none."""
    text = _ESCAPE.sub("", text)
    if not text.strip():
        return NO_ANSWER
    found = as_asked(extract_answer(text), question)
    several = _boxed_amounts(text) if asks_for_each(question) else []
    if len(several) > 1:
        found = normalize_answer(", ".join(several))
    words_asked = not expects_number(question) and not _NUMBER_RE.search(question)
    unstated = found.kind == "none" or (found.kind == "number" and not _stated(text))
    if unstated and words_asked and not _NUMBER_RE.search(_LIST_MARKER.sub("", text)):
        return ExtractedAnswer(text.strip(), " ".join(_strip_latex(_strip_sentence(text)).lower().split()), "text")
    return found


# "Step 4:", "**Step 4.**", "4. ", "- 2) " at the start of a line: where a text numbers its parts
_LIST_MARKER = re.compile(r"^[ \t#>*_-]*(?:step\s+\d+\s*[:.)]?|\d+\s*[.)](?=\s))", re.I | re.M)


def _stated(text: str) -> bool:
    """Whether a text states its answer: <answer>, \\boxed{}, 'Answer:' or 'the answer is'."""
    text = _close_last_box(text)
    return any(finder(text) for finder in (_from_tag, _from_boxed, _from_line, _from_answer_is))


def as_written(answer: ExtractedAnswer) -> str:
    """The answer to show a person: its canonical form, in the letter case and the lines it was
    written in ("Paris"; a haiku keeps its three lines); a time of day and a fraction as written ("3/8")."""
    if answer.kind == "time":
        return re.sub(r"\s*:\s*", ":", " ".join(_strip_latex(_strip_sentence(answer.text)).split()))
    if answer.kind == "expression":
        return re.sub(r"(?<![A-Za-z])oo(?![A-Za-z])", "∞", answer.normalized)
    if answer.kind == "number" and re.fullmatch(r"-?\d+\s*/\s*\d+", _strip_latex(_strip_sentence(answer.text))):
        return re.sub(r"\s+", "", _strip_latex(_strip_sentence(answer.text)))  # 3/8, asked for a fraction
    if answer.kind == "set":
        return _set_in_written_order(answer)
    if answer.kind == "text":
        lines = (" ".join(line.split()) for line in _strip_latex(_strip_sentence(answer.text)).splitlines())
        written = "\n".join(line for line in lines if line)
        if " ".join(written.split()).lower() == answer.normalized:
            return written
    return answer.normalized


def _set_in_written_order(answer: ExtractedAnswer) -> str:
    """A set of numbers written as a plain list ("60, 40": Tom's amount, then Ann's), in that
    order; any other set as its canonical sorted form."""
    parts = [normalize_answer(part) for part in re.split(r",\s+|\s+", answer.text.strip())]
    shown = [part.normalized for part in parts]
    if all(part.kind == "number" for part in parts) and sorted(shown) == sorted(answer.normalized.split(", ")):
        return ", ".join(shown)
    return answer.normalized


def exact_number(answer: ExtractedAnswer) -> bool:
    """Whether an answer is an integer or a fraction p/q ("18446744073709551616", "1/36"): no
    decimal that may be rounded ("0.027777777777777776"), no power of ten, no formula; a float
    printed in e-notation ("3.0099999999999996e+23") is no integer, though its value is one."""
    shown = re.search(r"\d\.\d|\d[eE][-+]?\d", answer.text)
    return answer.kind == "number" and "." not in answer.normalized and not shown


def answer_from_step(text: str) -> ExtractedAnswer:
    """The answer an <answer> step states: as written when it is short, else what a sentence
    around it gives ('He has 12 apples left.' -> 12)."""
    text = _ESCAPE.sub("", text)  # a terminal sequence is no part of an answer ('\x1b[31m9' is 9)
    text = _ANSWER_LABEL.sub("", text, count=1)  # 'Answer: 391' states 391
    found = normalize_answer(text)
    sentence = len(text.split()) > 3 and re.search(r"[A-Za-z]{2,}", text)
    if found.kind != "number" and ((sentence and _NUMBER_RE.search(text)) or "\\boxed" in text):
        return extract_answer(text)
    return found


def stated_value(text: str) -> ExtractedAnswer:
    """The value a line of working ends on: '(16*33)+(3*10)=528+30=558' -> 558."""
    tail = text.split("=")[-1].strip()
    found = normalize_answer(tail)
    if found.kind != "number" and _NUMBER_RE.search(tail) and not re.search(r"[A-Za-z]", tail):
        numbers = _NUMBER_RE.findall(tail)
        if len(numbers) == 1:
            return normalize_answer(numbers[0])
    return answer_from_step(tail) if found.kind != "number" else found


def normalize_answer(text: str) -> ExtractedAnswer:
    """Canonicalise one answer string."""
    raw = _ESCAPE.sub("", text).strip()
    cleaned = _strip_latex(_strip_sentence(raw))
    truth = _TRUTH.match(cleaned)
    if truth:
        return ExtractedAnswer(raw, TRUTH_VALUES[truth.group(1).lower()], "text")
    ordered = _as_tuple(raw, cleaned)
    if ordered is not None:
        return ordered
    if cleaned.count("±") == 1:
        return _both_branches(raw, _VARIABLE.sub("", cleaned))
    number = parse_number(cleaned)
    if number is not None:
        return ExtractedAnswer(raw, format_number(number), "number")
    seconds = duration_seconds(re.sub(r"\s+", " ", cleaned))
    if seconds is not None:
        return ExtractedAnswer(raw, format_duration(seconds), "duration")
    clock = _clock_time(cleaned)
    if clock is not None:
        return ExtractedAnswer(raw, clock, "time")
    leading = re.match(rf"^\s*({_NUMBER})\s*%?\s*[A-Za-z][A-Za-z .]*$", _CURRENCY.sub("", cleaned))
    if leading:
        number = parse_number(leading.group(1))
        if number is not None:
            return ExtractedAnswer(raw, format_number(number), "number")
    values = sorted(set(_values(cleaned) or ()))
    if len(values) == 1:
        return ExtractedAnswer(raw, format_number(values[0]), "number")
    if values:
        return ExtractedAnswer(raw, ", ".join(format_number(v) for v in values), "set")
    if re.search(r"[A-Za-z]", cleaned) and not re.search(r"[=+*/^()\d\\]", cleaned) and cleaned.lstrip("-+") not in ("pi", "oo"):
        return ExtractedAnswer(raw, " ".join(cleaned.lower().split()), "text")
    value = arithmetic_value(cleaned)
    if value is not None:
        return ExtractedAnswer(raw, format_number(value), "number")
    return ExtractedAnswer(raw, re.sub(r"\s+", "", cleaned), "expression")


def _as_tuple(raw: str, cleaned: str) -> ExtractedAnswer | None:
    """A system's solution or a point ('x = 7, y = 3', '{x: 7, y: 3}', '(7, 3)') as one ordered
    tuple of numbers or formulas, written '(7,3)' (`tuples.ordered_values`), else None."""
    values = ordered_values(cleaned)
    members = [_member(v) for v in values or ()]
    if not members or any(m.kind not in ("number", "expression") for m in members):
        return None
    return ExtractedAnswer(raw, "(" + ",".join(m.normalized for m in members) + ")", "expression")


def _both_branches(raw: str, body: str) -> ExtractedAnswer:
    """'1 ± sqrt(2)', '(5 ± 1)/(2)': the set of its minus and its plus branch."""
    branches = [body.replace("±", sign).strip() for sign in "-+"]
    return _as_set(raw, [_member(b[1:] if b.startswith("+") else b) for b in branches],
                   fallback=re.sub(r"\s+", "", body))


def _as_set(raw: str, members: list[ExtractedAnswer], fallback: str) -> ExtractedAnswer:
    """Members that are all numbers or formulas as one set, sorted ('2, 3', '1-sqrt(2), 1+sqrt(2)');
    otherwise the text is an expression (`fallback`)."""
    if not members or any(m.kind not in ("number", "expression") for m in members):
        return ExtractedAnswer(raw, fallback, "expression")
    if all(m.kind == "number" for m in members):
        values = sorted({parse_number(m.normalized) for m in members})  # type: ignore[type-var]
        return ExtractedAnswer(raw, ", ".join(format_number(v) for v in values), "set" if len(values) > 1 else "number")
    normalized = sorted({m.normalized for m in members})
    return ExtractedAnswer(raw, ", ".join(normalized), "set" if len(normalized) > 1 else "expression")


def _member(text: str) -> ExtractedAnswer:
    """One value of a list or a printed line: a formula may be a lone symbol ('I', '-I', 'sqrt(2)')."""
    if parse_number(text) is None and _bare_expression(text, operator=False):
        return ExtractedAnswer(text, re.sub(r"\s+", "", text), "expression")
    return normalize_answer(text)


def _listed(text: str) -> list[str] | None:
    """The members of a printed list or set of formulas ('[1 - sqrt(2), 1 + sqrt(2)]'), else None."""
    inner = re.fullmatch(r"\[(.*)\]|\{(.*)\}", text.strip(), re.S)
    if inner is None or len(text) > 500:
        return None
    members, depth, start, body = [], 0, 0, inner.group(1) if inner.group(1) is not None else inner.group(2)
    for i, ch in enumerate(body + ","):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            members.append(body[start:i].strip())
            start = i + 1
    return members if len(members) > 1 and all(members) else None


def _clock_time(text: str) -> str | None:
    """A time of day on a 24-hour clock ('6:15 pm' and '18 : 15' -> '18:15'), else None."""
    found = re.fullmatch(_CLOCK, text.strip(), re.I)
    if found is None:
        return None
    hour, minute, half = int(found.group(1)), found.group(2), (found.group(3) or "").lower()
    if hour > (12 if half else 23) or (half and hour == 0):
        return None
    hour = hour % 12 + (12 if half == "p" else 0) if half else hour
    return f"{hour}:{minute}"


_ARITHMETIC = re.compile(r"^[\d\s.,+\-*/×÷()]+$")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def arithmetic_value(text: str) -> Fraction | None:
    """The exact value of plain arithmetic on numbers ('528 + 30', '(16*33)+(3*10)'), else None.

    Only numbers, + - * / and parentheses, at most 200 characters; evaluated on Fractions by
    walking the `ast`, never with eval."""
    if len(text) > 200 or not _ARITHMETIC.match(text) or not re.search(r"\d\s*[-+*/×÷]\s*[\d(]", text):
        return None
    try:
        tree = ast.parse(text.replace("×", "*").replace("÷", "/").replace(",", ""), mode="eval")
        return _fraction(tree.body)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError, InvalidOperation):
        return None


def _values(text: str) -> list[Fraction] | None:
    """The numbers of a list of solutions ('x = 2 or x = 3', '{2, 3}', '[3.0, 2.0]'), else None."""
    inner = re.sub(r"^(?:\[(.*)\]|\\?\{(.*?)\\?\})$", lambda m: m.group(1) or m.group(2) or "", text.strip(), flags=re.S)
    parts = _SOLUTIONS.split(inner)
    values = [parse_number(_FRACTION.sub(r"\1/\2", _VARIABLE.sub("", part))) for part in parts]
    return None if any(v is None for v in values) else values  # type: ignore[return-value]


def _bare_expression(text: str, operator: bool = True) -> bool:
    """Whether a text is only a formula in one-letter variables and sympy's names ('3*x**2 + 2'), no
    words; with `operator`, one that has an operator (a list's member may be a lone 'I' or 'sqrt(2)')."""
    names = re.findall(r"[A-Za-z_]\w*", text)
    operated = bool(re.search(r"[-+*/^]", text) or _CALL.match(text) or text.strip() in ("pi", "oo"))
    return (len(text) <= 200 and bool(_FORMULA.fullmatch(text)) and (not operator or operated)
            and bool(names) and all(_SYMBOL.fullmatch(name) for name in names))


_CALL = re.compile(r"^\s*(?:sqrt|exp|log|sin|cos|tan)\s*\(")  # sqrt(2): a value, not the number 2


def _fraction(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return Fraction(Decimal(repr(node.value)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _fraction(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_fraction(node.left), _fraction(node.right))
    raise ValueError("not plain arithmetic")


def parse_number(text: str) -> Fraction | None:
    """The exact value of a plain number (commas, currency, %, fractions allowed), else None; a
    string of more than MAX_NUMBER_CHARS characters is no number (a program may print 10,000 nines)."""
    t = _CURRENCY.sub("", text).replace("−", "-").strip().rstrip("%").strip()
    if len(t) > MAX_NUMBER_CHARS or not _ONLY_NUMBER.match(t):
        return None
    t = t.replace(",", "")
    if re.search(r"/.*[eE]|[eE].*/", t):
        return None
    try:
        if "/" in t:
            num, den = t.split("/")
            return Fraction(Decimal(num)) / Fraction(Decimal(den)) if Decimal(den) != 0 else None
        return Fraction(Decimal(t))
    except (InvalidOperation, ValueError, ZeroDivisionError):
        return None


def format_number(value: Fraction) -> str:
    """Canonical text for a number: an integer, a terminating decimal, or p/q."""
    if value.denominator == 1:
        digits = str(value.numerator)
        return digits if len(digits) <= 30 else str(Context(prec=len(digits)).normalize(Decimal(value.numerator)))
    decimal = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(decimal) == value:
        return format(decimal.normalize(), "f")
    return f"{value.numerator}/{value.denominator}"


Symbolic = Callable[[str, str], "bool | None"]


def given_numbers(question: str) -> frozenset[Fraction]:
    """The numbers a question gives ("Which is larger, 3/7 or 0.43?" -> 3/7 and 43/100)."""
    found = (parse_number(m.group()) for m in _NUMBER_RE.finditer(_ESCAPE.sub("", question)))
    return frozenset(value for value in found if value is not None)


def equivalent(
    a: str | ExtractedAnswer, b: str | ExtractedAnswer, rel_tol: float = 1e-6, symbolic: Symbolic | None = None,
    given: frozenset[Fraction] = frozenset(),
) -> bool:
    """Whether two answers agree: numerically with tolerance, by canonical text, or (given a
    `symbolic` checker, e.g. `sympy_check.symbolic_equal` bound to a sandbox) symbolically.
    Two different numbers of `given` (the question's, `given_numbers`) never agree."""
    x = a if isinstance(a, ExtractedAnswer) else normalize_answer(a)
    y = b if isinstance(b, ExtractedAnswer) else normalize_answer(b)
    if x.kind == "none" or y.kind == "none":
        return False
    if x.kind == "number" and y.kind == "number":
        return _numbers_agree(x, y, rel_tol, given)
    if {x.kind, y.kind} == {"duration", "number"}:
        length, number = (x, y) if x.kind == "duration" else (y, x)
        return any(_numbers_agree(number, _length_in(length, unit), rel_tol, given) for unit in ("hour", "minute", "second"))
    if x.normalized == y.normalized:
        return True
    if x.kind == y.kind == "time":
        return _half_a_day_apart(x, y)
    if symbolic is not None and x.kind == y.kind == "set":
        return _same_members(x.normalized.split(", "), y.normalized.split(", "), rel_tol, symbolic)
    if symbolic is not None and not {"text", "set"} & {x.kind, y.kind}:
        a, b = _CONSTANT.sub("", x.normalized), _CONSTANT.sub("", y.normalized)
        return bool(symbolic(_unit_as_sympy(a, b), _unit_as_sympy(b, a)))
    return False


def _numbers_agree(x: ExtractedAnswer, y: ExtractedAnswer, rel_tol: float, given: frozenset[Fraction]) -> bool:
    """Two numbers agree: equal, within `rel_tol`, or one's written decimals a rounding of the other."""
    p, q = parse_number(x.normalized), parse_number(y.normalized)
    if p is None or q is None or (p != q and p in given and q in given):
        return False
    close = abs(p - q) <= Fraction(rel_tol) * max(abs(p), abs(q), 1)  # in fractions: 1e999 is no float
    return p == q or close or (p not in given and _rounds_to(x, q)) or (q not in given and _rounds_to(y, p))


def _length_in(duration: ExtractedAnswer, unit: str) -> ExtractedAnswer:
    """A duration as the number of `unit`s it lasts ('4 hours 25 minutes' in minutes: 265)."""
    seconds = duration_seconds(duration.normalized) or Fraction(0)
    value = format_number(seconds / UNIT_SECONDS[unit])
    return ExtractedAnswer(value, value, "number")


_LOWER_UNIT, _SYMPY_UNIT = re.compile(r"(?<![A-Za-z_])i(?![A-Za-z_])"), re.compile(r"(?<![A-Za-z_])I(?![A-Za-z_])")


def _unit_as_sympy(formula: str, other: str) -> str:
    """A chain's imaginary unit i written as sympy's I, when the formula it is compared with holds I ('-i' and '-I')."""
    return _LOWER_UNIT.sub("I", formula) if _SYMPY_UNIT.search(other) else formula


def _same_members(xs: list[str], ys: list[str], rel_tol: float, symbolic: Symbolic) -> bool:
    """Whether two sets hold the same values, member by member ('-sqrt(2), sqrt(2)' and '-1.414..., 1.414...')."""
    left = list(ys)
    for x in xs:
        match = next((y for y in left if equivalent(_member(x), _member(y), rel_tol, symbolic)), None)
        if match is None:
            return False
        left.remove(match)
    return not left


_HALF_OF_DAY = re.compile(r"\d\s*[ap]\.?\s*m\b", re.I)


def _half_a_day_apart(x: ExtractedAnswer, y: ExtractedAnswer) -> bool:
    """Whether two times are twelve hours apart and one of them is written on a 12-hour clock
    without am or pm, so it may be either ('6:15' and '18:15'; never '6:15 am' and '18:15')."""
    (hx, mx), (hy, my) = (map(int, t.normalized.split(":")) for t in (x, y))
    ambiguous = any(1 <= h <= 12 and not _HALF_OF_DAY.search(t.text) for t, h in ((x, hx), (y, hy)))
    return mx == my and abs(hx - hy) == 12 and ambiguous


def _rounds_to(written: ExtractedAnswer, value: Fraction) -> bool:
    """Whether `value` rounded to the two or more decimals `written` shows in its text is `written`
    (37.78, 37.7777...; never a fraction's 3/8, which is exact); a value half-way rounds either way
    (1157.625 is 1157.63 as money rounds, and 1157.62)."""
    if not re.search(r"\d\.\d", written.text):  # 3/8 is exact, though its canonical form is 0.375
        return False
    places = len(written.normalized.partition(".")[2]) if "/" not in written.normalized else 0
    shown = parse_number(written.normalized)
    return places >= 2 and shown is not None and abs(value - shown) <= Fraction(1, 2 * 10**places)


def _from_tag(text: str) -> str | None:
    found = _TAG.findall(text)
    return found[-1] if found else None


def _from_boxed(text: str) -> str | None:
    start = text.rfind("\\boxed{")
    return _box_at(text, start) if start >= 0 else None


def _close_last_box(text: str) -> str:
    """`text` with a last \\boxed{ that never closes: where the text ends on its line (a chain cut
    off at its token limit) it is closed there when what follows it is whole
    ("\\boxed{\\frac{1}{2}" holds 1/2); else it is left out with the rest of its line (its
    digits are no number of the answer) and the lines after it are read as before."""
    start = text.rfind("\\boxed{")
    if start < 0 or _box_at(text, start) is not None:
        return text
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    held = text[start + len("\\boxed{"):end]
    depth = 0
    for char in held:
        depth += {"{": 1, "}": -1}.get(char, 0)
    cut_off = not text[end:].strip()  # nothing after its line: the text ended inside the box
    box = "\\boxed{" + held + "}" if cut_off and held.strip() and depth == 0 else ""
    return text[:start] + box + text[end:]  # the lines after it are read as before (<answer>, Answer:)


def _box_at(text: str, start: int) -> str | None:
    """What the \\boxed{ at `start` holds up to its closing brace (None when it never closes)."""
    depth, i = 1, start + len("\\boxed{")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i:j]
    return None


def _boxes(text: str) -> list[str]:
    """What every closed \\boxed{} of a text holds, in order (nested braces kept)."""
    starts = [m.start() for m in re.finditer(r"\\boxed\{", text)]
    return [box for box in (_box_at(text, start) for start in starts) if box is not None]


def _boxed_amounts(text: str) -> list[str]:
    """The different numbers boxed on the line of the last box ("Tom gets \\boxed{40} and Ann
    \\boxed{60}" -> ["40", "60"]); none when a box there holds anything but a number."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return []
    line = text[text.rfind("\n", 0, start) + 1:]
    if line.count("\\boxed{") > MAX_AMOUNTS:  # a line of boxes is no list of amounts (and never read twice over)
        return []
    amounts = [normalize_answer(box) for box in _boxes(line)]
    if any(a.kind != "number" for a in amounts):
        return []
    return list(dict.fromkeys(a.normalized for a in amounts))


def _from_line(text: str) -> str | None:
    found = _ANSWER_LINE.findall(text)
    return found[-1] if found else None


def _from_answer_is(text: str) -> str | None:
    found = _ANSWER_IS.findall(text)
    return found[-1] if found else None


def _strip_sentence(text: str) -> str:
    return text.strip().strip("*").strip().rstrip(".").strip()


def _plain_function(match: re.Match[str]) -> str:
    """\\sin as sin, \\ln as log; after a term, a product ('x\\cos(x)' -> 'x*cos(x)')."""
    name = _FUNCTION_NAMES.get(match.group(2), match.group(2))
    call = f"{name}({match.group(3)})" if match.group(3) else name
    return f"{match.group(1).rstrip()}*{call}" if match.group(1) else call


# a mixed number: 6\frac{1}{4} is 6 + 1/4 (a whole number, never an exponent's or a variable's digit)
_MIXED = re.compile(r"(?<![\w^.{}\\])(\d+)\s*\\[dt]?frac\{(\d+)\}\{(\d+)\}")


def _mixed_number(match: re.Match[str]) -> str:
    """6\\frac{1}{4} as (6+1/4); an improper fraction after a number (2\\frac{5}{3}) stays a product."""
    whole, numerator, denominator = match.groups()
    if int(numerator) >= int(denominator):
        return match.group()
    return f"({whole}+{numerator}/{denominator})"


def _strip_latex(text: str) -> str:
    text = _SQRT.sub(r"sqrt(\1)", text)
    text = _MIXED.sub(_mixed_number, text)
    text = _FRAC.sub(r"(\1)/(\2)", text)
    text = re.sub(r"\\(?:text|mathrm|mbox)\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"\^\{([^{}]*)\}", r"^(\1)", text).replace("\\times", "*").replace("\\cdot", "*")
    text = re.sub(r"(?<=[\d)])\s*\\pi", "*pi", text).replace("\\pi", "pi")  # 2\pi is 2*pi, never 2 with a unit
    text = re.sub(r"\\(?:left|right)(?![A-Za-z])", "", text)  # \left( x \right) is ( x )
    text = _LATEX_FUNCTION.sub(_plain_function, text)
    text = text.replace("\\,", "").replace("\\!", "").replace("\\%", "%").replace("\\pm", "±")
    text = re.sub(r"\\infty(?![A-Za-z])", "oo", text)
    text = text.strip().strip("$").strip()
    if re.fullmatch(r"\(\s*-?\d+\s*\)/\(\s*\d+\s*\)", text):
        text = text.replace("(", "").replace(")", "")
    return text
