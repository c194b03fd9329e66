"""Turn a `-m` spec into a loaded Backend: an embedded model, a GGUF path, or the fake.

Specs: 'default' / 'small' (embedded), a path to a GGUF file, 'fake' (a built-in demo
script, replayed for every question), or 'fake:FILE.json' (outputs to replay, for tests and demos: a JSON list of
strings, or an object {"outputs": [...], "delay": seconds per token}).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ponder.errors import ModelError
from ponder.llm.backend import Backend
from ponder.llm.llama import LoadOptions

DEMO_SCRIPT = [
    "We need the product of 17 and 23.\n",
    "1. Multiply 17 by 20. 2. Multiply 17 by 3. 3. Add the two.\n",
    "17 * 20 = 340 and 17 * 3 = 51, so 340 + 51 = 391.\nCandidate answer: 391\n",
    "```python\nprint(17 * 23)\n```\n",
    "391",
    "ACCEPT",  # the review's verdict word, then its one line of reasons
    "The check computed the same product.",
]


def model_spec(spec: str | None) -> str:
    """The effective spec: the flag, else $PONDER_MODEL, else 'default'."""
    return spec or os.environ.get("PONDER_MODEL") or "default"


def load_backend(spec: str | None, options: LoadOptions) -> Backend:
    """Load the backend a spec names."""
    spec = model_spec(spec)
    if spec == "fake" or spec.startswith("fake:"):
        return _fake(spec)
    from ponder.llm.llama import LlamaBackend
    from ponder.llm.registry import resolve_model

    return LlamaBackend(resolve_model(spec), options)


def _fake(spec: str) -> Backend:
    from ponder.llm.fake import FakeBackend

    if spec == "fake":
        return FakeBackend(DEMO_SCRIPT, cycle=True)
    path = Path(spec[len("fake:"):])
    try:
        outputs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read fake script {path}: {exc}") from None
    delay = 0.0
    if isinstance(outputs, dict):
        delay = outputs.get("delay", 0.0)
        outputs = outputs.get("outputs")
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise ModelError(f"fake script {path} must hold a list of strings")
    if not isinstance(delay, (int, float)) or delay < 0:
        raise ModelError(f"fake script {path}: delay must be a non-negative number")
    return FakeBackend(outputs, delay=float(delay))
