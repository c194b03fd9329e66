"""Embedded-model assembly: atomic, checksum-verified, one clear error when parts are missing."""

import hashlib
import sys

import pytest

from ponder.errors import ModelError
from ponder.llm import registry


def make_parts(tmp_path, monkeypatch, chunks):
    for number, data in enumerate(chunks, start=1):
        package = tmp_path / "site" / f"fake_model_part{number}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{number:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in list(sys.modules):
        if name.startswith("fake_model_part"):
            del sys.modules[name]


def model(chunks, sha=None):
    blob = b"".join(chunks)
    return registry.EmbeddedModel(
        name="tiny", filename="tiny.gguf", size=len(blob),
        sha256=sha or hashlib.sha256(blob).hexdigest(),
        package_prefix="fake_model_part", parts=len(chunks), extra="model",
    )


def test_assembles_once_and_then_trusts_the_stamp(tmp_path, monkeypatch):
    chunks = [b"GGUF" + b"a" * 100, b"b" * 50]
    make_parts(tmp_path, monkeypatch, chunks)
    path = registry.ensure_embedded(model(chunks), cache=tmp_path / "cache")
    assert path.read_bytes() == b"".join(chunks)
    first = path.stat().st_mtime_ns
    assert registry.ensure_embedded(model(chunks), cache=tmp_path / "cache") == path
    assert path.stat().st_mtime_ns == first


def test_wrong_checksum_leaves_nothing_behind(tmp_path, monkeypatch):
    chunks = [b"GGUF", b"x"]
    make_parts(tmp_path, monkeypatch, chunks)
    with pytest.raises(ModelError, match="checksum does not match.*pip install"):
        registry.ensure_embedded(model(chunks, sha="0" * 64), cache=tmp_path / "cache")
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_missing_part_names_the_extra_to_install(tmp_path, monkeypatch):
    make_parts(tmp_path, monkeypatch, [b"GGUF"])
    broken = model([b"GGUF", b"missing"])
    with pytest.raises(ModelError, match=r"pip install 'ponder\[model\]'"):
        registry.ensure_embedded(broken, cache=tmp_path / "cache")


def test_a_tampered_file_is_reassembled(tmp_path, monkeypatch):
    chunks = [b"GGUF" + b"z" * 10]
    make_parts(tmp_path, monkeypatch, chunks)
    path = registry.ensure_embedded(model(chunks), cache=tmp_path / "cache")
    path.write_bytes(b"GGUF" + b"y" * 10)
    assert registry.ensure_embedded(model(chunks), cache=tmp_path / "cache").read_bytes() == chunks[0]


def test_a_killed_assemblys_part_file_is_removed_by_the_next(tmp_path, monkeypatch):
    import os
    import subprocess
    import time

    chunks = [b"GGUF" + b"q" * 10]
    make_parts(tmp_path, monkeypatch, chunks)
    models = tmp_path / "cache" / "models"
    models.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    old = time.time() - 2 * registry.PART_AGE
    stale, fresh, live = (models / f"tiny.gguf.{dead.stdout.strip()}-abc.part", models / f"tiny.gguf.{dead.stdout.strip()}-new.part",
                          models / f"tiny.gguf.{os.getpid()}-own.part")
    for part in (stale, fresh, live):
        part.write_bytes(b"half a model")
    os.utime(stale, (old, old))
    os.utime(live, (old, old))
    registry.ensure_embedded(model(chunks), cache=tmp_path / "cache")
    assert sorted(p.name for p in models.iterdir()) == sorted(["tiny.gguf", "tiny.gguf.verified", fresh.name, live.name])
