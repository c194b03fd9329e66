"""Without bubblewrap: `auto` falls back to resource limits (recorded and warned once),
`strict` refuses, `off` never runs code."""

from __future__ import annotations

import json

import pytest

import ponder.tools.sandbox as sandbox_module
from ponder.tools.sandbox import Limits, Sandbox
from tests.cli_helpers import fake_script, ponder
from tests.unit import scripts

NO_BWRAP = {"PATH": "/nonexistent"}  # bwrap is looked up on PATH; the interpreter path is absolute


@pytest.fixture
def no_bwrap(monkeypatch):
    monkeypatch.setattr(sandbox_module, "bwrap_works", lambda: False)


def test_auto_falls_back_to_rlimits_and_still_limits(no_bwrap):
    box = Sandbox("auto", Limits(wall_seconds=1.5, output_bytes=100))
    assert box.isolation == "rlimits"
    ok = box.run("print(6 * 7)")
    assert ok.status == "ok" and ok.stdout == "42\n" and ok.isolation == "rlimits"
    assert box.run("while True: pass").status == "timeout"
    assert box.run("x = ' ' * 10**10").status == "memory"
    assert box.run("print('y' * 1000)").status == "output-truncated"


def test_fallback_clears_the_environment(no_bwrap, monkeypatch):
    monkeypatch.setenv("PONDER_CANARY_TOKEN", "leak")
    result = Sandbox("auto").run("import os; print(sorted(os.environ))")
    assert "PONDER_CANARY_TOKEN" not in result.stdout


@pytest.mark.parametrize("mode", ["strict", "off"])
def test_strict_and_off_refuse(no_bwrap, mode, tmp_path):
    canary = tmp_path / "ran"
    result = Sandbox(mode).run(f"open({str(canary)!r}, 'w').write('x')")
    assert result.status == "refused" and result.isolation == "none"
    assert not canary.exists()


def test_cli_warns_once_when_code_runs_without_bwrap(tmp_path):
    spec = fake_script(tmp_path, scripts.CORRECTED)
    done = ponder("ask", "--strategy", "chain", "-m", spec, "--json", "q", env=NO_BWRAP)
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().count("warning: bubblewrap is unavailable") == 1
    run = json.loads(done.stdout)
    trace = [json.loads(line) for line in open(run["trace"])]
    isolations = {e["isolation"] for e in trace if e["type"] == "tool_result"}
    assert isolations == {"rlimits"}


def test_cli_strict_refuses_and_the_check_is_no_evidence(tmp_path):
    spec = fake_script(tmp_path, scripts.PASSING)
    done = ponder("ask", "--strategy", "chain", "-m", spec, "--json", "--sandbox", "strict", "q", env=NO_BWRAP)
    run = json.loads(done.stdout)
    verify = [s for s in run["steps"] if s["factor"] == "verify"][0]
    assert verify["outcome"] == "none" and "not run" in verify["observation"]
    assert verify["tools"][0]["status"] == "refused"
    assert b"warning" not in done.stderr


def test_tools_python_strict_without_bwrap_refuses():
    done = ponder("tools", "python", "--sandbox", "strict", stdin="print(1)", env=NO_BWRAP)
    assert done.returncode == 1
    assert json.loads(done.stdout)["status"] == "refused"
