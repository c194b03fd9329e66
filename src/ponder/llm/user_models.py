"""Models the user registered under a short name (`ponder models add`), and the default model.

The registry is `models.json` in the config directory (`paths.config_dir()`):

    {"version": 1, "default": "NAME" or null,
     "models": {"NAME": {"path": "/abs/model.gguf"},
                "NAME": {"base_url": "http://host:8000/v1", "model": "SERVER-MODEL" or null}}}

Rules that must hold:
- A name is `[a-z0-9][a-z0-9._-]{0,63}` and never a built-in spec (`default`, `small`,
  `fake`); a name is registered once (a duplicate is refused, never overwritten).
- A GGUF is stored by absolute path, and only when it is a regular file that starts with the
  GGUF magic; a server by its normalized http(s) API root, with the server's model name or
  none (the first it lists). The default is an embedded model's name or a registered one.
- The file is written atomically, under a lock: a temporary file in the same directory,
  flushed to disk, then `os.replace`; a failed write leaves the old file whole.
- A missing file is an empty registry. A file that cannot be read, is not JSON or is not a
  registry of this shape is one UsageError line naming the file (exit 2), never a traceback.
- Every user error (a bad name, a duplicate, an unknown name, a missing or non-GGUF file, a
  bad URL, a registry that would grow past what `load` reads) is one UsageError line and
  nothing is written. A stored base_url is one `add` would store, else the file is corrupt.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

from ponder import paths
from ponder.errors import PonderError, UsageError
from ponder.inputs import KIB, describe, open_regular, read_file
from ponder.llm.registry import EMBEDDED
from ponder.trace.jsonl import to_json

FILENAME = "models.json"
VERSION = 1
MAX_REGISTRY_BYTES = 256 * KIB
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
BUILTIN = frozenset({*EMBEDDED, "fake"})
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class UserModel:
    """A registered model: a GGUF file (`path`) or a server's model (`base_url`, `model`)."""

    name: str
    path: Path | None = None
    base_url: str | None = None
    model: str | None = None  # the server's model name; None: the first it lists

    @property
    def kind(self) -> str:
        """'gguf' or 'server'."""
        return "gguf" if self.path is not None else "server"

    def record(self) -> dict[str, Any]:
        """The entry as stored in the registry file."""
        if self.path is not None:
            return {"path": str(self.path)}
        return {"base_url": self.base_url, "model": self.model}


@dataclass(frozen=True)
class Registry:
    """The registered models by name, and the default model's name (None: `default`)."""

    models: dict[str, UserModel] = field(default_factory=dict)
    default: str | None = None

    def record(self) -> dict[str, Any]:
        """The registry as stored in its file."""
        return {"version": VERSION, "default": self.default,
                "models": {name: model.record() for name, model in sorted(self.models.items())}}


def registry_file() -> Path:
    """Where the registry is kept."""
    return paths.config_dir() / FILENAME


def load(path: Path | None = None) -> Registry:
    """The registry in `path` (default: the config dir's); empty when there is no file."""
    path = path or registry_file()
    if describe(path) == "not found":
        return Registry()
    try:
        data = json.loads(read_file(path, MAX_REGISTRY_BYTES, "model registry"))
    except UsageError as exc:
        raise UsageError(f"{exc}; fix or remove it") from None
    except (ValueError, RecursionError) as exc:
        raise _corrupt(path, f"not valid JSON ({exc})") from None
    return _parse(data, path)


def lookup(spec: str) -> UserModel | None:
    """The registered model a `-m` spec names, or None (a built-in, a path, or no such name)."""
    if spec in BUILTIN or not NAME.fullmatch(spec):
        return None
    return load().models.get(spec)


def default_name() -> str | None:
    """The default set with `ponder models default`, if any."""
    return load().default


def add(name: str, target: str, server_model: str | None = None) -> UserModel:
    """Register `target` (a GGUF path or an http(s) server URL) as `name`."""
    check_name(name)
    for given, what in ((target, "the path or URL"), (server_model, "--model")):
        if given is not None and not _is_text(given):  # the registry could not read it back
            raise UsageError(f"{what} is not UTF-8 text (undecodable bytes or NUL); rename the file, or link it "
                             "under a UTF-8 name")
    model = _server(name, target, server_model) if _is_url(target) else _gguf(name, target, server_model)
    with _locked() as path:
        registry = load(path)
        if name in registry.models:
            raise UsageError(f"a model named {name} is already registered; remove it first (ponder models remove {name})")
        save(replace(registry, models={**registry.models, name: model}), path)
    return model


def remove(name: str) -> bool:
    """Forget the registered model `name`; True when it was the default (which is then unset)."""
    with _locked() as path:
        registry = load(path)
        if name not in registry.models:
            raise UsageError(f"no registered model named {name}; see `ponder models`")
        was_default = registry.default == name
        models = {k: v for k, v in registry.models.items() if k != name}
        save(Registry(models, None if was_default else registry.default), path)
    return was_default


def set_default(name: str) -> None:
    """Make `name` (an embedded or registered model) the model used without -m and $PONDER_MODEL."""
    with _locked() as path:
        registry = load(path)
        if name not in EMBEDDED and name not in registry.models:
            known = ", ".join([*EMBEDDED, *sorted(registry.models)])
            raise UsageError(f"no model named {name} (known: {known}); see `ponder models`")
        save(replace(registry, default=None if name == "default" else name), path)


def check_name(name: str) -> None:
    """Refuse a name that is malformed or built in."""
    if name in BUILTIN:
        raise UsageError(f"{name} is a built-in model name; choose another name")
    if not NAME.fullmatch(name):
        raise UsageError(f"bad model name {name!r}: use a-z, 0-9, '.', '_' and '-' (at most 64, "
                         "starting with a letter or digit)")


def save(registry: Registry, path: Path | None = None) -> None:
    """Write the registry atomically: a temporary file beside it (beside its target, when it is
    a symlink, which stays one), flushed, then renamed over it."""
    path = path or registry_file()
    text = to_json(registry.record(), indent=2) + "\n"
    if len(text.encode("utf-8")) > MAX_REGISTRY_BYTES:  # what load would then refuse to read, for good
        raise UsageError(f"the model registry would grow past {MAX_REGISTRY_BYTES // KIB} KiB, more than ponder "
                         f"reads; remove models you no longer use (nothing was written)")
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path = Path(os.path.realpath(path))
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise PonderError(f"cannot write model registry {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@contextlib.contextmanager
def _locked() -> Iterator[Path]:
    """Hold the registry's lock (a file beside it) across a read-modify-write; yield its path."""
    import fcntl

    path = registry_file()
    lock_path = path.with_name(f".{path.name}.lock")
    flags = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, flags, 0o600)  # never a FIFO's wait, never a symlink's target made
    except OSError as exc:
        raise PonderError(f"cannot use the registry's lock {lock_path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PonderError(f"cannot use the registry's lock {lock_path}: not a regular file; remove it")
    with os.fdopen(fd, "r+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield path


def _is_url(target: str) -> bool:
    """Whether `target` is meant as a URL (any scheme: only http(s) is then accepted)."""
    return "://" in target


def _server(name: str, target: str, server_model: str | None) -> UserModel:
    from ponder.llm.openai_http import normalize_base_url

    try:
        base_url = normalize_base_url(target)
    except UsageError:
        raise UsageError(f"{target!r} is not a usable http:// or https:// URL") from None
    if server_model is not None and not server_model.strip():
        raise UsageError("--model is empty; give the server's model name, or leave it out for the first it lists")
    return UserModel(name, base_url=base_url, model=server_model)


def _gguf(name: str, target: str, server_model: str | None) -> UserModel:
    if server_model is not None:
        raise UsageError("--model names a server's model; it goes with a URL, not a file")
    if not target.strip():
        raise UsageError("no model file or URL given")
    path = Path(os.path.abspath(os.path.expanduser(target)))
    try:
        with open_regular(path, "model file") as f:
            magic = f.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise UsageError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    if magic != GGUF_MAGIC:
        raise UsageError(f"model file {path}: not a GGUF file (it does not start with GGUF)")
    return UserModel(name, path=path)


def _corrupt(path: Path, why: str) -> UsageError:
    return UsageError(f"model registry {path} is corrupt: {why}; fix or remove it")


def _parse(data: object, path: Path) -> Registry:
    """The registry from its file's JSON, checked entry by entry."""
    if not isinstance(data, dict) or not isinstance(data.get("models", {}), dict):
        raise _corrupt(path, "expected an object with a 'models' object")
    if type(data.get("version", VERSION)) is not int or data.get("version", VERSION) != VERSION:  # not true
        raise _corrupt(path, f"unknown version {data.get('version')!r}")
    models = {name: _entry(name, entry, path) for name, entry in data.get("models", {}).items()}
    default = data.get("default")
    if default is not None and (not isinstance(default, str) or (default not in EMBEDDED and default not in models)):
        raise _corrupt(path, f"the default {default!r} names no model")
    return Registry(models, None if default == "default" else default)


def _entry(name: object, entry: object, path: Path) -> UserModel:
    """One registered model from its record."""
    if not isinstance(name, str) or name in BUILTIN or not NAME.fullmatch(name):
        raise _corrupt(path, f"bad model name {name!r}")
    if isinstance(entry, dict) and _is_text(entry.get("path")) and os.path.isabs(entry["path"]):
        return UserModel(name, path=Path(entry["path"]))
    if (isinstance(entry, dict) and _is_text(entry.get("base_url")) and _usable_url(entry["base_url"])
            and (entry.get("model") is None or _is_text(entry.get("model")))):
        return UserModel(name, base_url=entry["base_url"], model=entry.get("model"))
    raise _corrupt(path, f"model {name} needs an absolute 'path' or an http(s) 'base_url' (text without NUL "
                         "or lone surrogates)")


def _usable_url(url: str) -> bool:
    """Whether a stored base_url is one `models add` would store (an http(s) URL httpx can read)."""
    from ponder.llm.openai_http import normalize_base_url

    try:
        normalize_base_url(url)
    except UsageError:
        return False
    return url == url.strip() and url.lower().startswith(("http://", "https://"))


def _is_text(value: object) -> bool:
    """A string a path or a URL can be: no NUL, and encodable (JSON's lone \\ud800 is not)."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
