"""A model's Python program run in the sandbox as tool events: every run is one ToolCall
with the code that ran and one ToolResult with what it printed.

Rules that must hold:
- Code runs only through `ponder.tools.sandbox`; nothing here evaluates it.
- A program that fails (an error, never a timeout) only for an import it forgot (`tools.imports.missing_import`) runs
  again with that line before it, at most `imports.MAX_REPAIRS` times, each run its own
  tool call, so what ran is what the trace shows. Any other failure stands.
"""

from __future__ import annotations

from typing import Generator

from ponder.agent.engine.ids import SpanIds
from ponder.tools.imports import MAX_REPAIRS, missing_import, with_import
from ponder.tools.sandbox import Result, Sandbox
from ponder.trace.events import Event, ToolCall, ToolResult


def run_program(sandbox: Sandbox, code: str, run_id: str, parent: str, ids: SpanIds) -> Generator[Event, None, Result]:
    """Run the code (repairing a forgotten import), yielding its tool events; return the last run."""
    for _ in range(MAX_REPAIRS + 1):
        tool_span = ids.next()
        yield ToolCall(run_id, span=tool_span, parent=parent, tool="python", input=code)
        ran = sandbox.run(code)
        yield ToolResult(run_id, span=tool_span, status=ran.status, output=ran.stdout, error=ran.stderr,
                         exit_code=ran.exit_code, seconds=ran.seconds, isolation=ran.isolation)
        repair = missing_import(ran.stderr) if ran.status == "error" else None  # never re-run a timeout
        if repair is None or repair in code.splitlines():
            return ran
        code = with_import(code, repair)
    return ran
