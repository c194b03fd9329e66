"""What a question asks for: a quantity, the solutions of an equation, a formula, or yes or no.

Rules that must hold:
- Pure functions of the question's text (regular expressions, no model, no I/O); the answer
  reader (`answers`) and the program prompts (`agent.engine.routes`) decide by them.
- Each rule that changes what is read or prompted beyond the GSM8K-measured default
  (`has_algebra`, `asks_for_solutions`, `asks_yes_or_no`, `asks_which_number`) matches no GSM8K
  training question, so none of them moves a measured figure (a unit test asserts it where the
  data is at hand).
  `asks_which_or_what` matches most GSM8K questions, but only takes a truth value ("yes",
  "no", a printed False) away, and no stored GSM8K route answers with one. `asks_how_long`
  matches GSM8K questions too, but only turns a clock's "2:35" into a length of time, and no
  stored GSM8K route answers one of them with a clock. `asks_for_each` matches GSM8K questions
  too, but only lets a chain that boxes different numbers on its last line answer with all of
  them, and no stored GSM8K chain does that.
"""

from __future__ import annotations

import re

_NUMERIC_QUESTION = re.compile(
    r"\bhow (?:many|much|long|far|old|fast|tall|often|big)\b"
    r"|\bwhat (?:is|was|will be|are|were) (?:the |his |her |their |its )?"
    r"(?:total|number|sum|difference|cost|price|amount|percent|percentage|average|value|profit|area|speed)\b",
    re.I,
)


def expects_number(question: str) -> bool:
    """Whether the question asks for a quantity ("How many ...", "What is the total ...")."""
    return bool(_NUMERIC_QUESTION.search(question))


# the last question sentence asks for a length of time: "How long is the journey?", "How much
# time did it take?" (a clock's "2:35" there is 2 hours 35 minutes, not a time of day)
_HOW_LONG = re.compile(r"\bhow\s+(?:long|much\s+time)\b[^.?!\n]*\?\s*$", re.I)


def asks_how_long(question: str) -> bool:
    """Whether the question asks how long something lasts ("How long is the journey?")."""
    return bool(_HOW_LONG.search(question))


# the last question sentence asks for an amount per person or thing: "How much does each get?",
# "How old are they both?", "... respectively?"; never "each day" (a rate)
_EACH = re.compile(r"\b(?:each(?!\s+(?:day|night|week|month|year|hour|minute|second|time)s?\b)|both|respectively|apiece)\b",
                   re.I)


def asks_for_each(question: str) -> bool:
    """Whether the question asks for an amount for each of several ("How much does each get?")."""
    ask = re.split(r"(?<=[.!?])\s+", question.strip())[-1]
    return ask.endswith("?") and bool(_EACH.search(ask))


_SOLVE_WORDS = re.compile(r"\b(?:solve|roots?|zeros|solutions?)\b", re.I)
# x^2, x**2, 5x, 2*x, x + 1, (x, = y; never a unit (5m, 750m^2) or a word (x-ray)
_ALGEBRA = re.compile(
    r"(?<![A-Za-z])[xyz]\s*(?:\^|\*\*|²)|\d\*?[xyz](?![A-Za-z])"
    r"|(?<![A-Za-z'’])[xyz]\s*[-+*/=)](?![A-Za-z])|[-+*/=(]\s*[xyz](?![A-Za-z])"
)


def has_algebra(question: str) -> bool:
    """Whether the question writes a formula in x, y or z ("x^2 - 1", "3x + 7 = 22", "2x")."""
    return bool(_ALGEBRA.search(question))


def asks_for_solutions(question: str) -> bool:
    """Whether the question asks for every solution of an equation ("Solve x^2 - 5x + 6 = 0")."""
    return bool(_SOLVE_WORDS.search(question)) and has_algebra(question)


_VERBS = r"(?:is|are|does|do|did|can|could|will|would|was|were|has|have|should)"
# one sentence that opens with its verb: "Is 97 a prime number?" (never "Will catches 16 fish. ...?",
# never a request: "Can you add 3 and 4?")
_YES_NO_QUESTION = re.compile(
    rf"^\s*{_VERBS}\b(?!\s+you\b)"
    r"(?:[^.?!\n]|\.\d)*\?\s*$", re.I
)


def asks_yes_or_no(question: str) -> bool:
    """Whether the question asks yes or no ("Is 97 a prime number?"), not for a quantity."""
    return bool(_YES_NO_QUESTION.match(question)) and not expects_number(question)


# the last question sentence opens with a question word: "Which is larger, 3/7 or 5/11?"; never
# one that then asks yes or no after a colon ("What do you think: is 91 prime?")
_WH_QUESTION = re.compile(
    rf"(?:^|[.!?]\s+)(?:which|what|how|who|whom|whose|when|where)\b(?:(?![:;]\s*{_VERBS}\b)[^.?!\n]|\.\d)*\?\s*$",
    re.I,
)


def asks_which_or_what(question: str) -> bool:
    """Whether the question asks which, what, how, who, when or where (a truth value answers none of these)."""
    return bool(_WH_QUESTION.search(question.strip())) and not asks_yes_or_no(question)


_CHOICE_NUMBER = r"[-−]?\$?\d+(?:\.\d+)?(?:/\d+)?%?"
# the last sentence opens with "Which" and ends choosing between two numbers: "Which is larger, 3/7 or 5/11?"
_WHICH_NUMBER = re.compile(
    rf"(?:^|[.!?]\s+)which\b[^.?!\n]*?[\s,:]({_CHOICE_NUMBER})\s+or\s+({_CHOICE_NUMBER})\s*\?\s*$", re.I
)


def asks_which_number(question: str) -> bool:
    """Whether the question asks which of two numbers it names ("Which is larger, 3/7 or 5/11?")."""
    return bool(_WHICH_NUMBER.search(question.strip()))


def offered_numbers(question: str) -> tuple[str, ...]:
    """The two numbers, as written, that a question asking which of them names ("3/7", "5/11"), else ()."""
    found = _WHICH_NUMBER.search(question.strip())
    return found.groups() if found else ()
