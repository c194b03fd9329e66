"""Shared fixtures: isolated ponder directories for every test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def ponder_dirs(tmp_path_factory, monkeypatch):
    """Keep traces of tests out of the user's data directory (the model cache stays shared)."""
    data = tmp_path_factory.mktemp("ponder-data")
    monkeypatch.setenv("PONDER_DATA_DIR", str(data))
    return data
