"""Load the thought-factor catalogue from package data.

Rules that must hold:
- Factors and prompts live in `factors.toml`; code never spells a prompt.
- The catalogue is validated on load: every `next`/`on_fail` names a known factor, tags are
  unique, budgets are positive. A broken catalogue fails loudly at load, not mid-run.
- Templates render with string.Template; a placeholder without a value is an error.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from string import Template
from typing import Any, Mapping


class CatalogueError(ValueError):
    """The factor catalogue is malformed (a bug in the package data)."""


@dataclass(frozen=True)
class Factor:
    """One thought factor: a tagged kind of step."""

    name: str
    tag: str
    purpose: str
    instruction: str
    max_tokens: int
    next: tuple[str, ...]
    on_fail: str | None = None
    tools: bool = False
    lead: str = ""

    @property
    def open_tag(self) -> str:
        """The opening tag, as the engine writes it."""
        return f"<{self.tag}>"

    @property
    def close_tag(self) -> str:
        """The closing tag, the stop sequence for this step."""
        return f"</{self.tag}>"


@dataclass(frozen=True)
class Catalogue:
    """All factors, the chain settings and the prompt templates."""

    factors: Mapping[str, Factor]
    start: str
    max_corrections: int
    prompts: Mapping[str, str]

    def factor(self, name: str) -> Factor:
        """The factor called `name`."""
        return self.factors[name]


def render(template: str, **values: Any) -> str:
    """Fill a $-template; a missing value raises CatalogueError."""
    try:
        return Template(template).substitute(values)
    except (KeyError, ValueError) as exc:
        raise CatalogueError(f"template needs a value for {exc}") from None


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The catalogue shipped with ponder."""
    text = resources.files("ponder.thought_factors").joinpath("factors.toml").read_text("utf-8")
    return parse_catalogue(text)


def parse_catalogue(text: str) -> Catalogue:
    """Parse and validate a catalogue from TOML text."""
    data = tomllib.loads(text)
    factors = {}
    for raw in data.get("factor", []):
        factor = Factor(
            name=raw["name"],
            tag=raw["tag"],
            purpose=raw["purpose"],
            instruction=raw["instruction"],
            max_tokens=int(raw["max_tokens"]),
            next=tuple(raw.get("next", ())),
            on_fail=raw.get("on_fail"),
            tools=bool(raw.get("tools", False)),
            lead=str(raw.get("lead", "")),
        )
        factors[factor.name] = factor
    chain = data["chain"]
    catalogue = Catalogue(factors, chain["start"], int(chain["max_corrections"]), dict(data["prompt"]))
    _validate(catalogue)
    return catalogue


def _validate(catalogue: Catalogue) -> None:
    names = set(catalogue.factors)
    tags = [f.tag for f in catalogue.factors.values()]
    if len(tags) != len(set(tags)):
        raise CatalogueError("factor tags must be unique")
    if catalogue.start not in names:
        raise CatalogueError(f"start factor {catalogue.start!r} is not defined")
    for factor in catalogue.factors.values():
        targets = list(factor.next) + ([factor.on_fail] if factor.on_fail else [])
        unknown = [t for t in targets if t not in names]
        if unknown:
            raise CatalogueError(f"factor {factor.name!r} leads to unknown {unknown}")
        if factor.max_tokens <= 0:
            raise CatalogueError(f"factor {factor.name!r} needs a positive max_tokens")
    for key in ("system", "user", "factor_line", "observation"):
        if key not in catalogue.prompts:
            raise CatalogueError(f"prompt template {key!r} is missing")
