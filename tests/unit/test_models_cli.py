"""`ponder models` as a process: the list, the registry's round trip, its refusals (one line,
exit 2, the file unchanged), a corrupt registry, and registered names used through `-m`.
No real model is loaded: a registered GGUF is shown to resolve by the error its path gives."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from ponder.errors import PonderError, UsageError
from ponder.llm import user_models
from ponder.llm.registry import EMBEDDED
from tests.cli_helpers import ponder


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Private config and cache dirs for the processes (conftest keeps the server out)."""
    config, cache = tmp_path / "config", tmp_path / "cache"
    monkeypatch.setenv("PONDER_CONFIG_DIR", str(config))
    monkeypatch.setenv("PONDER_CACHE_DIR", str(cache))
    return config, cache


@pytest.fixture
def gguf(tmp_path) -> Path:
    """A tiny file that starts like a GGUF (never loaded)."""
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 12)
    return path


def listed(*args: str) -> dict:
    """`ponder models --json` (or `models list --json`), parsed."""
    done = ponder("models", *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def by_name(listing: dict) -> dict[str, dict]:
    return {row["name"]: row for row in listing["models"]}


def one_line_error(done, code: int) -> str:
    """The one stderr line of a refusal with exit `code`."""
    err = done.stderr.decode()
    assert done.returncode == code, err
    assert err.startswith("ponder: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_list_shows_the_embedded_models_assembled_or_not(dirs):
    _, cache = dirs
    rows = by_name(listed())
    assert set(EMBEDDED) <= set(rows) and listed("list") == listed()
    small = rows["small"]
    assert small["kind"] == "embedded" and small["size"] == EMBEDDED["small"].size
    assert (small["assembled"], small["verified"]) == (False, False)
    assert small["path"] == str(cache / "models" / EMBEDDED["small"].filename)
    assert rows["default"]["default"] and not small["default"]

    target = Path(small["path"])  # a sparse file of the right size: assembled, not yet verified
    target.parent.mkdir(parents=True)
    with open(target, "wb") as f:
        f.truncate(EMBEDDED["small"].size)
    assert (by_name(listed())["small"]["assembled"], by_name(listed())["small"]["verified"]) == (True, False)
    stamp = f"{EMBEDDED['small'].sha256} {EMBEDDED['small'].size} {target.stat().st_mtime_ns}\n"
    target.with_name(target.name + ".verified").write_text(stamp)
    assert by_name(listed())["small"]["verified"] is True


def test_the_plain_table_marks_the_default(dirs):
    done = ponder("models")
    lines = done.stdout.decode().splitlines()
    assert done.returncode == 0 and done.stderr == b""
    assert lines[0].split() == ["NAME", "KIND", "SIZE", "INSTALLED", "ASSEMBLED", "VERIFIED", "LOCATION"]
    assert lines[1].startswith("*") and lines[1].split()[1:3] == ["default", "embedded"]
    assert "491.4 MB" in next(line for line in lines if " small " in line)


def test_add_default_remove_round_trip(dirs, gguf):
    config, _ = dirs
    done = ponder("models", "add", "tiny", str(gguf))
    assert done.returncode == 0 and f"registered tiny: GGUF {gguf}" in done.stderr.decode()
    port = free_port()
    assert ponder("models", "add", "srv", f"http://127.0.0.1:{port}", "--model", "qwen").returncode == 0

    rows = by_name(listed())
    assert (rows["tiny"]["kind"], rows["tiny"]["path"]) == ("gguf", str(gguf))
    assert rows["tiny"]["size"] == 16 and rows["tiny"]["installed"] is True
    assert (rows["srv"]["base_url"], rows["srv"]["model"]) == (f"http://127.0.0.1:{port}/v1", "qwen")
    stored = json.loads((config / "models.json").read_text())
    assert stored["models"]["tiny"] == {"path": str(gguf)}

    assert ponder("models", "default", "tiny").returncode == 0
    assert ponder("models", "default").stdout == b"tiny\n"
    assert listed()["default"] == "tiny" and by_name(listed())["tiny"]["default"]
    table = ponder("models").stdout.decode().splitlines()
    assert next(line for line in table if " tiny " in line).startswith("*")

    done = ponder("models", "remove", "tiny")
    assert done.returncode == 0 and "default is the embedded default model again" in done.stderr.decode()
    assert ponder("models", "default").stdout == b"default\n"
    assert set(by_name(listed())) == {*EMBEDDED, "srv"}
    assert gguf.exists()  # the file itself is left alone
    assert not [p for p in config.iterdir() if p.name.endswith(".tmp")]


def test_a_relative_path_is_stored_absolute(dirs, gguf, monkeypatch):
    monkeypatch.chdir(gguf.parent)
    assert ponder("models", "add", "tiny", gguf.name).returncode == 0
    assert by_name(listed())["tiny"]["path"] == str(gguf)


@pytest.mark.parametrize("args, says", [
    (["add", "Tiny", "{gguf}"], "bad model name 'Tiny'"),
    (["add", "a b", "{gguf}"], "bad model name 'a b'"),
    (["add", "x" * 65, "{gguf}"], "bad model name"),
    (["add", "small", "{gguf}"], "small is a built-in model name"),
    (["add", "fake", "{gguf}"], "fake is a built-in model name"),
    (["add", "default", "{gguf}"], "default is a built-in model name"),
    (["add", "kept", "{gguf}"], "a model named kept is already registered"),
    (["add", "new", "{missing}"], "missing.gguf: not found"),
    (["add", "new", "{dir}"], ": a directory"),
    (["add", "new", "{text}"], "not a GGUF file"),
    (["add", "new", "ftp://example.com/v1"], "not a usable http:// or https:// URL"),
    (["add", "new", "{gguf}", "--model", "qwen"], "--model names a server's model"),
    (["add", "new", "http://127.0.0.1:1/v1", "--model", " "], "--model is empty"),
    (["remove", "nothing"], "no registered model named nothing"),
    (["remove", "small"], "no registered model named small"),
    (["default", "nothing"], "no model named nothing"),
])
def test_refusals_are_one_line_and_leave_the_file_unchanged(dirs, gguf, tmp_path, args, says):
    config, _ = dirs
    user_models.add("kept", str(gguf))  # in this process: the env points it at the same dir
    before = (config / "models.json").read_bytes()
    (tmp_path / "notes.txt").write_text("not a model")
    values = {"gguf": str(gguf), "missing": str(tmp_path / "missing.gguf"), "dir": str(tmp_path),
              "text": str(tmp_path / "notes.txt")}
    done = ponder("models", *[a.format(**values) for a in args])
    assert says in one_line_error(done, 2)
    assert (config / "models.json").read_bytes() == before


@pytest.mark.parametrize("content, why", [
    (b"{", "not valid JSON"), (b"\xff", "not valid JSON"), (b"[]", "expected an object"),
    (b'{"models": []}', "expected an object"), (b'{"version": 9, "models": {}}', "unknown version 9"),
    (b'{"models": {"Bad": {"path": "/x.gguf"}}}', "bad model name 'Bad'"),
    (b'{"models": {"small": {"path": "/x.gguf"}}}', "bad model name 'small'"),
    (b'{"models": {"x": {"path": "relative.gguf"}}}', "model x needs an absolute 'path'"),
    (b'{"models": {"x": {"base_url": "ftp://h"}}}', "model x needs an absolute 'path' or an http(s) 'base_url'"),
    (b'{"models": {"x": {"base_url": "http://h/v1", "model": 3}}}', "model x needs"),
    (b'{"models": {}, "default": "gone"}', "the default 'gone' names no model"),
    (b'{"version": true, "models": {}}', "unknown version True"),
    (b'{"models": {"x": {"path": "/tmp/a\\u0000b.gguf"}}}', "model x needs an absolute 'path'"),
    (b'{"models": {"x": {"path": "/tmp/\\ud800.gguf"}}}', "model x needs an absolute 'path'"),
    (b'{"models": {"x": {"base_url": "http://h/\\u0000"}}}', "model x needs"),
    (b'{"models": {"x": {"base_url": "http://x:abc/v1"}}}', "model x needs"),
    (b'{"models": {"x": {"base_url": "http://[::1"}}}', "model x needs"),
    (b'{"models": {"x": {"base_url": "http://x\\n"}}}', "model x needs"),
])
def test_every_corruption_is_one_usage_error_naming_the_file(dirs, content, why):
    config, _ = dirs
    config.mkdir()
    (config / "models.json").write_bytes(content)
    with pytest.raises(UsageError) as caught:
        user_models.load()
    message = str(caught.value)
    assert message.startswith(f"model registry {config / 'models.json'} is corrupt: ") and why in message
    assert "\n" not in message and message.endswith("; fix or remove it")


def test_a_corrupt_registry_stops_every_command_that_reads_it(dirs):
    config, _ = dirs
    config.mkdir()
    registry = config / "models.json"
    registry.write_bytes(b'{"models": {"x": 1}}')
    for args in (["models"], ["models", "add", "new", "http://127.0.0.1:1"], ["ask", "-m", "mine", "q"], ["ask", "q"]):
        assert f"model registry {registry} is corrupt" in one_line_error(ponder(*args), 2)
    assert registry.read_bytes() == b'{"models": {"x": 1}}'
    assert ponder("ask", "-m", "fake", "--no-trace", "q").returncode == 0  # a built-in spec needs no registry


def test_a_registry_that_is_a_directory_is_one_line(dirs):
    config, _ = dirs
    (config / "models.json").mkdir(parents=True)
    assert "models.json: a directory" in one_line_error(ponder("models"), 2)


def test_a_registered_gguf_resolves_to_its_path_everywhere(dirs, gguf, tmp_path):
    assert ponder("models", "add", "tiny", str(gguf)).returncode == 0
    gguf.write_bytes(b"junk, not a model")  # so resolving the name is seen by the error, and nothing loads
    expected = f"not a GGUF model file: {gguf}"
    assert expected in one_line_error(ponder("ask", "-m", "tiny", "--no-trace", "q"), 3)
    assert expected in one_line_error(ponder("ask", "--no-trace", "q", env={"PONDER_MODEL": "tiny"}), 3)
    assert expected in one_line_error(ponder("batch", "-m", "tiny", "--no-trace", "-", stdin="q\n"), 3)
    assert ponder("models", "default", "tiny").returncode == 0
    assert expected in one_line_error(ponder("ask", "--no-trace", "q"), 3)  # the default, without -m
    gguf.unlink()
    assert f"{gguf} (registered as tiny): not found" in one_line_error(ponder("ask", "--no-trace", "q"), 3)


def test_a_registered_server_resolves_to_its_base_url(dirs):
    port, other = free_port(), free_port()
    assert ponder("models", "add", "srv", f"http://127.0.0.1:{port}/v1", "--model", "qwen").returncode == 0
    err = one_line_error(ponder("ask", "-m", "srv", "--no-trace", "q"), 3)
    assert f"127.0.0.1:{port}" in err and "connection refused" in err
    # a registered name means what was registered, whatever the base URL
    err = one_line_error(ponder("ask", "-m", "srv", "--base-url", f"http://127.0.0.1:{other}/v1", "--no-trace", "q"), 3)
    assert f"127.0.0.1:{port}" in err


def test_an_unknown_name_says_it_is_neither_a_file_nor_a_model(dirs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = one_line_error(ponder("ask", "-m", "nothing", "--no-trace", "q"), 3)
    assert "nothing: not found, nor a model name (see `ponder models`)" in err


def test_help_lists_models(dirs):
    assert b"models" in ponder("--help").stdout
    assert b"add" in ponder("models", "--help").stdout


def test_a_failed_write_leaves_the_old_registry_whole(dirs, gguf, monkeypatch):
    config, _ = dirs
    user_models.add("kept", str(gguf))
    before = (config / "models.json").read_bytes()

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(user_models.os, "replace", fail)
    with pytest.raises(PonderError, match="cannot write model registry .*: No space left on device"):
        user_models.add("other", str(gguf))
    assert (config / "models.json").read_bytes() == before
    assert sorted(p.name for p in config.iterdir()) == [".models.json.lock", "models.json"]


def test_a_symlinked_registry_stays_a_symlink_and_its_target_is_written(dirs, gguf, tmp_path):
    config, _ = dirs
    config.mkdir()
    target = tmp_path / "dotfiles" / "models.json"
    target.parent.mkdir()
    target.write_text('{"models": {}}')
    (config / "models.json").symlink_to(target)
    user_models.add("mine", str(gguf))
    assert (config / "models.json").is_symlink()
    assert "mine" in json.loads(target.read_text())["models"]


def test_a_path_that_is_not_utf8_is_refused_before_anything_is_written(dirs, tmp_path):
    config, _ = dirs
    odd = os.fsencode(tmp_path) + b"/m\xff.gguf"
    with open(odd, "wb") as f:
        f.write(b"GGUF" + b"\0" * 12)
    done = ponder("models", "add", "latin", odd)  # type: ignore[arg-type]
    assert "is not UTF-8 text" in one_line_error(done, 2)
    assert not (config / "models.json").exists()
    assert ponder("models").returncode == 0  # the registry still reads


def test_a_name_with_a_newline_stays_on_one_line(dirs):
    done = ponder("models", "add", "new", "http://127.0.0.1:1/v1", "--model", "a\nb")
    assert done.returncode == 0 and done.stderr.decode().count("\n") == 1, done.stderr
    assert "a\\x0ab" in done.stderr.decode()
    listing = ponder("models")
    row = [line for line in listing.stdout.decode().splitlines() if line.split()[:1] == ["new"]]
    assert len(row) == 1 and "a\\x0ab" in row[0]


def test_a_registry_that_would_grow_past_what_ponder_reads_is_refused(dirs):
    config, _ = dirs
    big = "x" * 131_000
    assert ponder("models", "add", "m1", "http://127.0.0.1:1/v1", "--model", big).returncode == 0
    before = (config / "models.json").read_bytes()
    assert "would grow past 256 KiB" in one_line_error(ponder("models", "add", "m2", "http://127.0.0.1:1/v1",
                                                              "--model", big), 2)
    assert (config / "models.json").read_bytes() == before and ponder("models").returncode == 0


def test_a_lock_file_that_is_a_fifo_or_a_symlink_is_one_line_not_a_wait(dirs, gguf, tmp_path):
    config, _ = dirs
    config.mkdir()
    lock = config / ".models.json.lock"
    os.mkfifo(lock)
    assert "not a regular file" in one_line_error(ponder("models", "add", "mine", str(gguf)), 1)
    lock.unlink()
    lock.symlink_to(tmp_path / "made_by_lock")
    assert "registry's lock" in one_line_error(ponder("models", "add", "mine", str(gguf)), 1)
    assert not (tmp_path / "made_by_lock").exists() and not (config / "models.json").exists()
