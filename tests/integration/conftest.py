"""Integration tests run the real default model; they fail (not skip) when it is missing,
unless PONDER_SKIP_MODEL_TESTS=1 says so explicitly."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    """Mark everything here as a real-model test."""
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def default_model_path():
    """The assembled default GGUF (assembling it on first use)."""
    if os.environ.get("PONDER_SKIP_MODEL_TESTS") == "1":
        pytest.skip("PONDER_SKIP_MODEL_TESTS=1")
    from ponder.llm.registry import resolve_model

    return resolve_model("default")


@pytest.fixture(scope="session")
def llama(default_model_path):
    """The default model, loaded once for the session."""
    from ponder.llm.llama import LlamaBackend, LoadOptions

    return LlamaBackend(default_model_path, LoadOptions(n_ctx=2048))
