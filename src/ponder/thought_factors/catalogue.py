"""Load the thought-factor catalogue from package data.

Rules that must hold:
- Factors and prompts live in `factors.toml`; code never spells a prompt, a factor name or a
  tag: the start, answer and observation names come from the catalogue's `[chain]` table.
- The catalogue is validated on load: every `next`/`on_fail` names a known factor, tags are
  unique, budgets are positive, every prompt template in PROMPTS is there (and no other),
  and no template uses a placeholder it is not given. A broken catalogue fails loudly at
  load (CatalogueError), not mid-run.
- Templates render with string.Template; a placeholder without a value is an error.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from string import Template
from typing import Any, Mapping

from ponder.errors import CatalogueError

# Every prompt template, and the placeholders it is rendered with.
PROMPTS: Mapping[str, frozenset[str]] = {
    "system": frozenset({"factor_list"}),
    "user": frozenset({"question"}),
    "factor_line": frozenset({"tag", "instruction"}),
    "observation": frozenset({"body"}),
    "review_system": frozenset(),
    "review_user": frozenset({"question", "answer", "outcome", "evidence"}),
    "review_computed": frozenset({"answer"}),
    "review_open": frozenset(),
    "review_reasons": frozenset(),
    "critique": frozenset({"answer", "reasons"}),
    "reflect": frozenset(),
    "judge_system": frozenset(),
    "judge_user": frozenset({"question", "answer"}),
    "judge_open": frozenset(),
    "reason_user": frozenset({"question"}),
    "program_system": frozenset(),
    "program_user": frozenset({"question"}),
    "program_user_algebra": frozenset({"question"}),
    "program_user_truth": frozenset({"question"}),
    "program_user_choice": frozenset({"question"}),
    "program_open": frozenset(),
    "chat_turn": frozenset({"question", "answer"}),
    "chat_question": frozenset({"history", "question"}),
}
LEAD_PLACEHOLDERS = frozenset({"verdict"})


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
    proposes: bool = False
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
class Routes:
    """The independent routes: which factor each is shown as, and its token budget."""

    reason_factor: str = "hypothesize"
    program_factor: str = "verify"
    reason_tokens: int = 768
    program_tokens: int = 400


@dataclass(frozen=True)
class Catalogue:
    """All factors, the chain settings, the routes and the prompt templates."""

    factors: Mapping[str, Factor]
    start: str
    answer_name: str
    observation_tag: str
    max_corrections: int
    prompts: Mapping[str, str]
    routes: Routes = Routes()

    def factor(self, name: str) -> Factor:
        """The factor called `name`."""
        return self.factors[name]

    @property
    def answer(self) -> Factor:
        """The factor that ends a chain with its answer."""
        return self.factors[self.answer_name]

    def tags(self) -> tuple[str, ...]:
        """Every tag a transcript may hold: each factor's, then the observation's."""
        return tuple(f.tag for f in self.factors.values()) + (self.observation_tag,)


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
    try:
        data = tomllib.loads(text)
        factors = {f.name: f for f in (_factor(raw) for raw in data.get("factor", []))}
        chain = data["chain"]
        routes = Routes(**data.get("routes", {}))
        catalogue = Catalogue(factors, chain["start"], chain["answer"], chain["observation"],
                              int(chain["max_corrections"]), dict(data["prompt"]), routes)
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogueError(f"malformed factor catalogue: {exc!r}") from None
    _validate(catalogue)
    return catalogue


def _factor(raw: dict[str, Any]) -> Factor:
    return Factor(
        name=raw["name"], tag=raw["tag"], purpose=raw["purpose"], instruction=raw["instruction"],
        max_tokens=int(raw["max_tokens"]), next=tuple(raw.get("next", ())), on_fail=raw.get("on_fail"),
        tools=bool(raw.get("tools", False)), proposes=bool(raw.get("proposes", False)), lead=str(raw.get("lead", "")),
    )


def _validate(catalogue: Catalogue) -> None:
    names = set(catalogue.factors)
    tags = catalogue.tags()
    if len(tags) != len(set(tags)):
        raise CatalogueError("factor and observation tags must be unique")
    for role, name in (("start", catalogue.start), ("answer", catalogue.answer_name)):
        if name not in names:
            raise CatalogueError(f"{role} factor {name!r} is not defined")
    for factor in catalogue.factors.values():
        _validate_factor(factor, names)
    routes = catalogue.routes
    for role, name in (("reason", routes.reason_factor), ("program", routes.program_factor)):
        if name not in names:
            raise CatalogueError(f"the {role} route's factor {name!r} is not defined")
    if routes.reason_tokens <= 0 or routes.program_tokens <= 0:
        raise CatalogueError("route token budgets must be positive")
    _validate_prompts(catalogue.prompts)


def _validate_factor(factor: Factor, names: set[str]) -> None:
    targets = list(factor.next) + ([factor.on_fail] if factor.on_fail else [])
    unknown = [t for t in targets if t not in names]
    if unknown:
        raise CatalogueError(f"factor {factor.name!r} leads to unknown {unknown}")
    if factor.max_tokens <= 0:
        raise CatalogueError(f"factor {factor.name!r} needs a positive max_tokens")
    extra = placeholders(factor.lead) - LEAD_PLACEHOLDERS
    if extra:
        raise CatalogueError(f"factor {factor.name!r}'s lead uses unknown placeholders {sorted(extra)}")


def _validate_prompts(prompts: Mapping[str, str]) -> None:
    missing = [key for key in PROMPTS if key not in prompts]
    if missing:
        raise CatalogueError(f"prompt templates {missing} are missing")
    unknown = [key for key in prompts if key not in PROMPTS]
    if unknown:
        raise CatalogueError(f"unknown prompt templates {unknown}")
    for key, allowed in PROMPTS.items():
        extra = placeholders(prompts[key]) - allowed
        if extra:
            raise CatalogueError(f"prompt template {key!r} uses unknown placeholders {sorted(extra)}")


def placeholders(template: str) -> set[str]:
    """The $names a template uses ($$ is a literal dollar)."""
    try:
        found = Template(template).pattern.finditer(template)
        names = {m.group("named") or m.group("braced") for m in found if not m.group("escaped")}
    except (TypeError, ValueError) as exc:
        raise CatalogueError(f"bad template {template[:40]!r}: {exc}") from None
    invalid = [m for m in Template(template).pattern.finditer(template) if m.group("invalid") is not None]
    if invalid:
        raise CatalogueError(f"bad $ in template {template[:40]!r}")
    return {n for n in names if n}
