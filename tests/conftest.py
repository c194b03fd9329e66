"""Shared fixtures: isolated ponder directories for every test, and `think`, which runs a
strategy on the fake model scripted by purpose (what it says at each factor)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping

import pytest

from ponder.agent.settings import ChainConfig, RunConfig
from ponder.agent.strategies import STRATEGIES
from ponder.llm.fake import FakeBackend, by_purpose
from ponder.trace.events import Event, StepFinished

QUESTION = "What is 16 - 3 - 4?"
# The user's server, keys and default model: never read by a test unless it sets them itself.
USER_SETTINGS = ("PONDER_BASE_URL", "OPENAI_BASE_URL", "PONDER_API_KEY", "OPENAI_API_KEY", "PONDER_MODEL")
_CHAIN_FIELDS = {f.name for f in fields(ChainConfig)}


@pytest.fixture(autouse=True)
def ponder_dirs(tmp_path_factory, monkeypatch):
    """Keep traces of tests out of the user's data directory, and the user's registered models,
    default model, server and keys out of the tests (the model cache stays shared)."""
    for name in USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    data = tmp_path_factory.mktemp("ponder-data")
    monkeypatch.setenv("PONDER_DATA_DIR", str(data))
    monkeypatch.setenv("PONDER_CONFIG_DIR", str(tmp_path_factory.mktemp("ponder-config")))
    return data


@pytest.fixture(autouse=True, scope="session")
def python_sigint():
    """Python's own SIGINT handler for the whole suite, even when it was started as a `&` job
    (whose shell ignores SIGINT): ponder processes started by tests inherit an ignored SIGINT
    and keep it (`ponder.interrupts`), and `_thread.interrupt_main()` does nothing where it is
    ignored, so the tests' Ctrl-Cs would never arrive."""
    import signal

    found = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, found)


NO_BWRAP = "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"


@functools.cache
def _bwrap_problem() -> str | None:
    """Why the real sandbox cannot run here (checked once per session), or None."""
    import shutil

    from ponder.tools.sandbox import bwrap_works

    if bwrap_works():
        return None
    if shutil.which("bwrap") is None:
        return NO_BWRAP
    return "bubblewrap (bwrap) is installed but cannot create its namespaces here (try running as root)"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    """A test marked `bwrap` fails with one line, instead of running, where bubblewrap cannot run
    (its fixtures must not need bubblewrap: they set up, then this fails the test)."""
    if item.get_closest_marker("bwrap") and _bwrap_problem():
        pytest.fail(_bwrap_problem(), pytrace=False)


@dataclass
class Thought:
    """A finished run on the fake model: the backend (its recorded calls) and the events."""

    backend: FakeBackend
    events: list[Event]

    def of(self, kind: type) -> list[Any]:
        """The events of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    def steps(self, factor: str | None = None) -> list[StepFinished]:
        """The finished steps (of one factor)."""
        return [e for e in self.of(StepFinished) if factor is None or e.factor == factor]

    @property
    def factors(self) -> list[str]:
        """The factor of every finished step, in order."""
        return [s.factor for s in self.steps()]

    @property
    def answer(self) -> str | None:
        """The run's final answer."""
        return self.events[-1].answer


def run_on_fake(strategy: str, says: Mapping[str, Any] | Callable[..., str], *, chooser=None, question: str = QUESTION,
                **config: Any) -> Thought:
    """Run `strategy` on a fake model that says `says[purpose]` at each step (or answers by
    the handler `says`); chain settings
    (max_tokens, seed, max_corrections, sandbox, ...) may be given alongside the run's."""
    chain = {k: config.pop(k) for k in list(config) if k in _CHAIN_FIELDS}
    if chain:
        config["chain"] = ChainConfig(**chain)
    handler = says if callable(says) else by_purpose(says)
    backend = FakeBackend(handler=handler, chooser=chooser)
    events = list(STRATEGIES[strategy](backend, question, RunConfig(**config), run_id="r", model="fake"))
    return Thought(backend, events)


@pytest.fixture
def think():
    """`think(strategy, says, **settings)` -> Thought: a run on the scripted fake model."""
    return run_on_fake
