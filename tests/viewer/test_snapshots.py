"""Snapshot tests (pytest-textual-snapshot) pin the viewer's look on fixed traces.

Deterministic by construction: fixed trace files, times from the trace in UTC, a fixed
terminal size, a pinned theme. Update after an intended change with `--snapshot-update`.
"""

from __future__ import annotations

from tests.viewer.helpers import DATA, REAL, viewer


def test_real_trace_verify_step_dark(snap_compare):
    assert snap_compare(viewer(REAL, theme="dark"), press=["down"] * 5 + ["space"], terminal_size=(100, 30))


def test_real_trace_answer_step_light_80x24(snap_compare):
    assert snap_compare(viewer(REAL, theme="light"), press=["down"] * 10, terminal_size=(80, 24))


def test_real_trace_tool_call_raw_json(snap_compare):
    assert snap_compare(viewer(REAL, theme="dark"), press=["e", "down", "down", "down", "down", "down", "down", "r"],
                        terminal_size=(80, 24))


def test_truncated_trace_warning(snap_compare):
    assert snap_compare(viewer(DATA / "truncated.jsonl", theme="dark"), terminal_size=(80, 24))
