"""Reading inputs: what a path is, arguments that are not UTF-8, and the model spec's paths."""

import os

import pytest

from ponder import inputs
from ponder.errors import ModelError, UsageError
from ponder.llm.loader import load_backend, model_spec
from ponder.llm.llama import LoadOptions
from ponder.llm.registry import resolve_model


@pytest.fixture
def odd_paths(tmp_path):
    """A FIFO, a symlink loop, a directory and a missing path."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    return {"fifo": fifo, "loop": loop, "dir": tmp_path, "missing": tmp_path / "none"}


def test_describe_names_what_a_path_is(odd_paths):
    assert inputs.describe(odd_paths["fifo"]) == "a FIFO (named pipe)"
    assert inputs.describe(odd_paths["loop"]) == "a symlink loop"
    assert inputs.describe(odd_paths["dir"]) == "a directory"
    assert inputs.describe(odd_paths["missing"]) == "not found"
    assert inputs.describe("/dev/zero") == "a device"


def test_open_regular_refuses_a_fifo_with_the_stdin_hint(odd_paths):
    with pytest.raises(UsageError, match=r"a FIFO \(named pipe\); pipe it to stdin with '-' instead"):
        inputs.open_regular(odd_paths["fifo"], "question file")


def test_an_argument_that_is_not_utf8_is_refused():
    assert inputs.argument_text("naïve", "the question") == "naïve"
    undecodable = b"a\xffb".decode("utf-8", "surrogateescape")  # how Python decodes such argv
    with pytest.raises(UsageError, match="^the question is not valid UTF-8$"):
        inputs.argument_text(undecodable, "the question")


def test_a_model_path_must_be_a_regular_file(odd_paths):
    for name, words in (("fifo", "a FIFO"), ("loop", "a symlink loop"), ("dir", "a directory"),
                        ("missing", "not found")):
        with pytest.raises(ModelError, match=words):
            resolve_model(str(odd_paths[name]))
    with pytest.raises(ModelError, match="empty"):
        resolve_model("")


def test_an_empty_spec_is_not_the_default_model(monkeypatch):
    monkeypatch.setenv("PONDER_MODEL", "fake")
    assert model_spec(None) == "fake" and model_spec("") == ""


def test_a_fake_script_is_read_bounded_from_a_regular_file(odd_paths, tmp_path, monkeypatch):
    for spec, words in ((f"fake:{odd_paths['fifo']}", "a FIFO"), (f"fake:{odd_paths['loop']}", "a symlink loop"),
                        ("fake:/dev/zero", "a device"), ("fake:", "no file named")):
        with pytest.raises(ModelError, match=words):
            load_backend(spec, LoadOptions())
    big = tmp_path / "big.json"
    big.write_text('["' + "x" * 100 + '"]')
    monkeypatch.setattr("ponder.llm.loader.MAX_SCRIPT_BYTES", 50)
    with pytest.raises(ModelError, match="larger than"):
        load_backend(f"fake:{big}", LoadOptions())


def test_a_fake_script_with_a_bom_loads_and_bad_json_is_one_model_error(tmp_path):
    script = tmp_path / "s.json"
    script.write_bytes(b'\xef\xbb\xbf["391"]')
    assert load_backend(f"fake:{script}", LoadOptions()) is not None
    script.write_text("[" * 5000)
    with pytest.raises(ModelError, match="is not valid JSON"):
        load_backend(f"fake:{script}", LoadOptions())


@pytest.mark.parametrize("what", ["results file", "model registry", "model file"])
def test_the_stdin_hint_is_only_for_what_stdin_can_replace(odd_paths, what):
    with pytest.raises(UsageError) as caught:
        inputs.open_regular(odd_paths["fifo"], what)
    assert str(caught.value).endswith("a FIFO (named pipe)")
