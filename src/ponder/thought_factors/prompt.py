"""Render the chain's prompt from the catalogue, keeping untrusted text inert.

Rules that must hold:
- Untrusted text (the question, tool output) cannot open or close chat turns: the chat
  template's special-token markers (`<|...|>`) in it are broken up before it is rendered.
- Tool output cannot close its own <observation> early or forge a factor tag.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ponder.llm.backend import Backend
from ponder.thought_factors.catalogue import Catalogue, render

_SPECIAL = re.compile(r"<\|")


def neutralize(text: str) -> str:
    """Break chat-template markers in untrusted text so they tokenize as plain text."""
    return _SPECIAL.sub("< |", text)


def system_prompt(catalogue: Catalogue) -> str:
    """The system message: the factor list, the rules and the worked example."""
    lines = [
        render(catalogue.prompts["factor_line"], tag=f.tag, instruction=f.instruction)
        for f in catalogue.factors.values()
    ]
    return render(catalogue.prompts["system"], factor_list="\n".join(lines))


def chain_prompt(backend: Backend, catalogue: Catalogue, question: str, critique: str = "") -> str:
    """The prompt a chain starts from: system and user turns, ready for the assistant."""
    user = render(catalogue.prompts["user"], question=neutralize(question))
    if critique:
        user += "\n\n" + neutralize(critique)
    messages = [
        {"role": "system", "content": system_prompt(catalogue)},
        {"role": "user", "content": user},
    ]
    return backend.chat_prompt(messages)


def observation(catalogue: Catalogue, body: str) -> str:
    """The <observation> block the engine appends after a checked step."""
    safe = _taglike(catalogue.tags()).sub(lambda m: f"<{m.group(1)} {m.group(2)}", neutralize(body))
    return render(catalogue.prompts["observation"], body=safe)


@lru_cache(maxsize=4)
def _taglike(tags: tuple[str, ...]) -> re.Pattern[str]:
    """The start of any opening or closing tag of the catalogue, in any case and spacing
    (`</observation >`, `< /Observation\n>`): what the substitution breaks up."""
    return re.compile(r"<\s*(/?)\s*(" + "|".join(re.escape(t) for t in tags) + r")(?=[\s/>])", re.I)
