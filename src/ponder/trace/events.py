"""Trace events: the one stream every part of ponder shares.

Rules that must hold:
- Events are frozen dataclasses of plain values (str, int, float, bool, None, and dicts or
  lists of those). They never hold objects with behaviour, and nothing renders inside them.
- Every event carries the run id and a wall-clock timestamp; events that belong to a node of
  the tree carry its `span` and, when they open the node, its `parent`.
- `to_record` and `from_record` are inverse: a saved trace read back gives equal events.
- A record whose type this version does not know becomes an `UnknownEvent`, never an error.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

SCHEMA_VERSION = 1


def now() -> float:
    """Wall-clock timestamp for an event."""
    return round(time.time(), 6)


@dataclass(frozen=True)
class Event:
    """Base of all events."""

    type: ClassVar[str] = "event"
    run: str
    ts: float = field(default_factory=now, kw_only=True)


@dataclass(frozen=True)
class RunStarted(Event):
    """A run began: the question, the model and the settings it runs with."""

    type: ClassVar[str] = "run_started"
    question: str
    model: str
    strategy: str = "chain"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RoundStarted(Event):
    """A round of thinking began (the review loop starts further rounds)."""

    type: ClassVar[str] = "round_started"
    span: str
    parent: str
    index: int


@dataclass(frozen=True)
class StepStarted(Event):
    """A thought-factor step began; the engine has written its opening tag."""

    type: ClassVar[str] = "step_started"
    span: str
    parent: str
    factor: str
    index: int


@dataclass(frozen=True)
class TextDelta(Event):
    """A piece of model text inside a step, as it streams."""

    type: ClassVar[str] = "text_delta"
    span: str
    text: str


@dataclass(frozen=True)
class ToolCall(Event):
    """The engine runs a tool (sandboxed Python, a sympy check) on the step's content."""

    type: ClassVar[str] = "tool_call"
    span: str
    parent: str
    tool: str
    input: str


@dataclass(frozen=True)
class ToolResult(Event):
    """What a tool call returned."""

    type: ClassVar[str] = "tool_result"
    span: str
    status: str
    output: str
    error: str = ""
    exit_code: int | None = None
    seconds: float = 0.0
    isolation: str = ""


@dataclass(frozen=True)
class StepFinished(Event):
    """A step ended: its full text, what it cost, and what its checks said."""

    type: ClassVar[str] = "step_finished"
    span: str
    factor: str
    text: str
    stop_reason: str
    completion_tokens: int
    prompt_tokens: int
    prompt_tokens_evaluated: int
    seconds: float
    prompt_seconds: float = 0.0
    confidence: float | None = None
    outcome: str = "none"
    observation: str | None = None
    prompt_tokens_sent: int | None = None  # every call's prompt added up (None: one call, `prompt_tokens`)


@dataclass(frozen=True)
class RoundFinished(Event):
    """A round (one chain of a strategy) ended: its answer and the evidence behind it."""

    type: ClassVar[str] = "round_finished"
    span: str
    answer: str
    normalized: str
    verified: str = "none"
    source: str = "model"
    completion_tokens: int = 0


@dataclass(frozen=True)
class ReviewVerdict(Event):
    """The review of a round's answer, in a fresh context: accept or revise, with reasons."""

    type: ClassVar[str] = "review_verdict"
    span: str
    parent: str
    verdict: str  # "accept" or "revise"
    reasons: str
    answer: str


@dataclass(frozen=True)
class CandidateScored(Event):
    """A sample's answer scored by a strategy's scorers (and its vote weight)."""

    type: ClassVar[str] = "candidate_scored"
    span: str
    parent: str
    answer: str
    score: float
    scores: dict[str, Any] = field(default_factory=dict)
    rule: str = "mean"


@dataclass(frozen=True)
class VoteTally(Event):
    """The votes of a run's samples, grouped by equivalent answer; the winner and why it stopped."""

    type: ClassVar[str] = "vote_tally"
    span: str
    parent: str
    groups: list[dict[str, Any]] = field(default_factory=list)
    winner: str = ""
    samples: int = 0
    stopped: str = "samples"  # "samples", "decided" (early stop), "budget"; cascade: "agreed", "covered", "words"


@dataclass(frozen=True)
class FactorChoice(Event):
    """The model's probability of each legal next factor at a search node (the MCTS prior)."""

    type: ClassVar[str] = "factor_choice"
    span: str  # the node that chooses (a step, or the search round for the first step)
    priors: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchNode(Event):
    """The final statistics of one node of a search tree (beam or MCTS), written when it ends."""

    type: ClassVar[str] = "search_node"
    span: str
    parent: str
    factor: str
    depth: int
    score: float  # the scorers' value of the path to this node
    visits: int = 0
    value: float = 0.0  # mean backed-up value (MCTS); the score for beam
    prior: float = 1.0
    tokens: int = 0  # tokens this node added to its parent's transcript (the root: the prompt)
    kept: bool = False  # survived the beam's pruning / lies on the path to the chosen answer


@dataclass(frozen=True)
class Answer(Event):
    """The run's final answer, as written and as normalised."""

    type: ClassVar[str] = "answer"
    span: str
    text: str
    normalized: str
    kind: str
    source: str = "model"


@dataclass(frozen=True)
class RunFinished(Event):
    """A run ended: ok, interrupted or error, with its answer and totals."""

    type: ClassVar[str] = "run_finished"
    status: str
    answer: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class UnknownEvent(Event):
    """A record of a type this version does not know (from a newer ponder)."""

    type: ClassVar[str] = "unknown"
    record: dict[str, Any] = field(default_factory=dict)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        RunStarted,
        RoundStarted,
        StepStarted,
        TextDelta,
        ToolCall,
        ToolResult,
        StepFinished,
        RoundFinished,
        ReviewVerdict,
        CandidateScored,
        VoteTally,
        FactorChoice,
        SearchNode,
        Answer,
        RunFinished,
    )
}


def to_record(event: Event) -> dict[str, Any]:
    """The JSON-ready record of an event, schema version first."""
    if isinstance(event, UnknownEvent):
        return dict(event.record)
    body = dataclasses.asdict(event)
    return {"v": SCHEMA_VERSION, "type": event.type, **body}


def from_record(record: dict[str, Any]) -> Event:
    """Rebuild an event from its record; unknown types and fields are tolerated."""
    cls = EVENT_TYPES.get(str(record.get("type")))
    if cls is None:
        return UnknownEvent(run=str(record.get("run", "")), ts=_ts(record), record=record)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in record.items() if k in names}
    try:
        return cls(**kwargs)
    except TypeError:
        return UnknownEvent(run=str(record.get("run", "")), ts=_ts(record), record=record)


def _ts(record: dict[str, Any]) -> float:
    return as_float(record.get("ts")) or 0.0


def as_float(value: object) -> float | None:
    """A JSON number as a float; None for anything else (a bool, or an integer past a float's range)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:
        return None
