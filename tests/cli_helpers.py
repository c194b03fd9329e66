"""Run the real `ponder` executable as a subprocess, the way users and scripts do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PONDER = [sys.executable, "-m", "ponder"]


def ponder(*args: str, stdin: str | bytes | None = "", env: dict[str, str] | None = None,
           timeout: float = 600) -> subprocess.CompletedProcess[bytes]:
    """Run `ponder ARGS` with piped stdio; return the finished process (bytes out)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    full_env = {k: v for k, v in os.environ.items() if k != "PONDER_MODEL"}
    full_env.update(env or {})
    return subprocess.run([*PONDER, *args], input=data, capture_output=True, env=full_env, timeout=timeout)


def fake_script(tmp_path: Path, script: list[str] | dict[str, Any], delay: float = 0.0) -> str:
    """Write a fake-backend script and return its `-m` spec: a list of outputs replayed in order,
    or what the model says by purpose (a review accepts unless the script says otherwise)."""
    path = tmp_path / "script.json"
    if isinstance(script, dict):
        body: dict[str, Any] = {"says": {**REVIEW_ACCEPTS, **script}, "delay": delay}
    else:
        body = {"outputs": script, "delay": delay}
    path.write_text(json.dumps(body))
    return f"fake:{path}"


REVIEW_ACCEPTS = {"review": "ACCEPT", "review-reasons": "The check agrees."}


def signal_once_tracing(proc: subprocess.Popen, traces: Path, signum: int, settle: float = 0.5) -> None:  # type: ignore[type-arg]
    """Send `signum` to a running ponder once a trace file has appeared in `traces` (the run is under way)."""
    deadline = time.time() + 30
    while time.time() < deadline and not any(traces.glob("*.jsonl")):
        time.sleep(0.05)
    time.sleep(settle)
    proc.send_signal(signum)
