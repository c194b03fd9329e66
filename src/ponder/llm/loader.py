"""Turn a `-m` spec into a loaded Backend: an embedded model, a registered one, a GGUF path, or the fake.

Specs: 'default' / 'small' (embedded), a name registered with `ponder models add` (a GGUF
file, or a server's model: `llm.user_models`), a path to a GGUF file, 'fake' (a built-in demo that
answers every step of every strategy by what it asks), or 'fake:FILE.json' (for tests and
demos: a JSON list of outputs replayed in order, or an object {"outputs": [...], "delay":
seconds per token}, or {"says": {"verify": "...", "answer": ["first", "then"]}, "delay": ...}
to answer by what is asked, as `FakeBackend(handler=by_purpose(...))` does). With a
`--base-url` the spec names the server's model instead (`llm.openai_http`); with `--backend
transformers` a GGUF (embedded, registered or a path) or a Hugging Face model directory is run
with torch (`llm.transformers_backend`); the fake stays
the fake, so tests and demos never depend on $OPENAI_BASE_URL. A registered name always means
what was registered, whatever the base URL; without -m and $PONDER_MODEL the default set by
`ponder models default` is used, except with a base URL (then the server's first model).

Rule that must hold: a fake script is read through `ponder.inputs` (a regular file of at most
MAX_SCRIPT_BYTES, so a FIFO or `/dev/zero` is refused, never waited on); every problem with
it, like every problem with a GGUF path, is one ModelError line (exit 3).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ponder.errors import ModelError, UsageError
from ponder.inputs import MAX_SCRIPT_BYTES, decode_utf8, describe, read_file
from ponder.llm.backend import Backend
from ponder.llm.llama import LoadOptions
from ponder.llm.user_models import UserModel, default_name, lookup

BACKENDS = ("llama", "transformers")  # what runs a model in this process (`--backend`)
MAX_FAKE_DELAY = 60  # seconds a fake model waits per token, at most

DEMO = {
    "restate": "We need the product of 17 and 23.\n",
    "decompose": "1. Multiply 17 by 20. 2. Multiply 17 by 3. 3. Add the two.\n",
    "hypothesize": "17 * 20 = 340 and 17 * 3 = 51, so 340 + 51 = 391.\nCandidate answer: 391\n",
    "correct": "17 * 23 = 391.\nCandidate answer: 391\n",
    "verify": "```python\nprint(17 * 23)\n```\n",
    "answer": "391",
    "review": "ACCEPT",
    "review-reasons": "The check computed the same product.",
    "judge": "yes",
    "reason": "17 * 23 = 17 * 20 + 17 * 3 = 340 + 51 = 391.\nThe answer is \\boxed{391}.",
    "program": "print(17 * 23)\n```",
}


def model_spec(spec: str | None, server: bool = False) -> str:
    """The effective spec: the flag (even empty: that is no model), else $PONDER_MODEL, else (with
    no `server` base URL) the default of `ponder models default`, else 'default'."""
    if spec is not None:
        return spec
    if os.environ.get("PONDER_MODEL"):
        return os.environ["PONDER_MODEL"]
    return (None if server else default_name()) or "default"


def load_backend(spec: str | None, options: LoadOptions) -> Backend:
    """Load the backend a spec names."""
    spec = model_spec(spec, server=bool(options.base_url))
    if spec == "fake" or spec.startswith("fake:"):
        return _fake(spec)
    registered = lookup(spec)
    if options.backend == "transformers":
        from ponder.llm.transformers_backend import load_transformers

        return load_transformers(spec, registered, options)
    if registered is not None:
        return _registered(registered, options)
    if options.base_url:  # a server's model: `spec` is its name ('default': the first it lists)
        from ponder.llm.openai_http import HttpBackend

        return HttpBackend(options.base_url, spec, options.sequences)
    from ponder.llm.llama import LlamaBackend
    from ponder.llm.registry import resolve_model

    return LlamaBackend(resolve_model(spec), options)


def _registered(model: UserModel, options: LoadOptions) -> Backend:
    """The backend of a registered model: its GGUF file, or its server's model."""
    if model.path is None:
        from ponder.llm.openai_http import HttpBackend

        return HttpBackend(model.base_url or "", model.model, options.sequences)
    problem = describe(model.path)
    if problem:
        raise ModelError(f"model file {model.path} (registered as {model.name}): {problem}")
    from ponder.llm.llama import LlamaBackend

    return LlamaBackend(model.path, options)


def _fake(spec: str) -> Backend:
    from ponder.llm.fake import FakeBackend, by_purpose

    if spec == "fake":
        return FakeBackend(handler=by_purpose(DEMO))
    path = Path(spec[len("fake:"):])
    script = _read_script(spec[len("fake:"):])
    if not isinstance(script, dict):
        script = {"outputs": script}
    delay = script.get("delay", 0.0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= MAX_FAKE_DELAY:
        raise ModelError(f"fake script {path}: delay must be a number of seconds from 0 to {MAX_FAKE_DELAY}")
    if "says" in script:
        return FakeBackend(handler=by_purpose(_says(script["says"], path)), delay=float(delay))
    outputs = script.get("outputs")
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise ModelError(f"fake script {path} must hold a list of strings")
    return FakeBackend(outputs, delay=float(delay))


def _read_script(name: str) -> object:
    """A fake script's JSON, read bounded from a regular file; any problem is a ModelError."""
    problem = describe(name) if name else "no file named (use fake:FILE.json)"
    if problem:
        raise ModelError(f"fake script {name}: {problem}")
    try:
        return json.loads(decode_utf8(read_file(name, MAX_SCRIPT_BYTES, "fake script"), f"fake script {name}"))
    except UsageError as exc:
        raise ModelError(str(exc)) from None
    except (ValueError, RecursionError) as exc:
        raise ModelError(f"fake script {name} is not valid JSON ({exc})") from None


def _says(says: object, path: Path) -> dict[str, str | list[str]]:
    """A fake script's `says` table: each purpose a string or a non-empty list of strings."""
    def fits(value: object) -> bool:
        return isinstance(value, str) or (isinstance(value, list) and bool(value)
                                          and all(isinstance(v, str) for v in value))

    if not isinstance(says, dict) or not all(isinstance(k, str) and fits(v) for k, v in says.items()):
        raise ModelError(f"fake script {path}: 'says' must map each purpose to a string or a list of strings")
    return says
