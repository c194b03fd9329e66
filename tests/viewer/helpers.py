"""Helpers for driving the viewer in tests: fixture paths, the app, and the screen as text."""

from __future__ import annotations

import asyncio
import functools
import io
import json
from pathlib import Path
from typing import Any, Awaitable, Callable

from rich.console import Console

from ponder.cli.viewer.app import RunTree, Target, ViewerApp

DATA = Path(__file__).parent / "data"
REAL = DATA / "real_17x23.jsonl"
SIZE = (100, 30)


def viewer(path: Path | None = None, *, data: bytes | None = None, follow: bool = False,
           theme: str = "dark", export_dir: Path | None = None) -> ViewerApp:
    """A viewer app on a trace file, a directory, or trace bytes."""
    is_dir = path is not None and path.is_dir()
    return ViewerApp(Target(path=path, data=data, is_dir=is_dir), follow=follow, theme=theme, export_dir=export_dir)


def screen_text(app: ViewerApp) -> str:
    """What the terminal shows now, as plain text (the same render as a screenshot)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def tree(app: ViewerApp) -> RunTree:
    """The run tree of the current screen."""
    return app.screen.query_one(RunTree)


def cursor(app: ViewerApp) -> str | None:
    """The key (span) of the tree node under the cursor."""
    node = tree(app).cursor_node
    return node.data if node is not None else None


def lines_of(path: Path) -> list[str]:
    """The lines of a trace file, newline included."""
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def record(**fields: object) -> str:
    """One JSON line of a trace."""
    return json.dumps({"v": 1, **fields}) + "\n"


def pilot_test(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Run an async pilot test in its own event loop (no pytest-asyncio needed)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(fn(*args, **kwargs))

    return run
