"""`ponder models`: the models this machine has and the user registered, and their default.

    ponder models [list] [--json]           the embedded and registered models
    ponder models add NAME PATH|URL [--model SERVER-MODEL]
    ponder models default [NAME]            show or set the model used without -m
    ponder models remove NAME

Rules that must hold:
- The list goes to stdout, a plain aligned table (or `--json`); confirmations and notes go to
  stderr. Registered paths and URLs are user text: shown through `cli.safe.one_line`, a URL
  without its user name, password or query.
- Listing reads no model data: embedded models are checked by their installed parts, the
  assembled file's size and its verification stamp (`llm.registry.embedded_state`).
- Every user error is one line and exit 2, raised by `llm.user_models` before anything is
  written. Importing this module is cheap (the registry is imported inside the commands).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

import typer

from ponder.trace.jsonl import to_json

models_app = typer.Typer(help="List, register and choose models: `ponder models` lists them.",
                         invoke_without_command=True)

JSON_OPTION: Any = typer.Option(False, "--json", help="One JSON object for scripts.")
COLUMNS = ("", "NAME", "KIND", "SIZE", "INSTALLED", "ASSEMBLED", "VERIFIED", "LOCATION")


@models_app.callback()
def _models(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List, register and choose models (no subcommand: list them)."""
    if ctx.invoked_subcommand is None:
        list_models(as_json)


@models_app.command("list")
def list_command(as_json: bool = JSON_OPTION) -> None:
    """List the embedded models and the registered ones; * marks the default."""
    list_models(as_json)


@models_app.command("add")
def add_command(
    name: str = typer.Argument(..., help="A short name: a-z, 0-9, '.', '_', '-' (at most 64)."),
    target: str = typer.Argument(..., metavar="PATH|URL", help="A GGUF file, or an OpenAI-compatible server's URL."),
    model: Optional[str] = typer.Option(None, "--model", help="With a URL: the server's model (default: the first it lists)."),
) -> None:
    """Register a GGUF file or a server's model under NAME, for `-m NAME`."""
    from ponder.llm import user_models

    added = user_models.add(name, target, model)
    _note(f"registered {added.name}: {_location(added)}")


@models_app.command("default")
def default_command(name: Optional[str] = typer.Argument(None, help="An embedded or registered model.")) -> None:
    """Show the default model, or make NAME the model used without -m and $PONDER_MODEL."""
    from ponder.llm import user_models

    if name is None:
        sys.stdout.write(f"{user_models.default_name() or 'default'}\n")
        return
    user_models.set_default(name)
    _note(f"default model: {name}")
    _warn_if_overridden()


@models_app.command("remove")
def remove_command(name: str = typer.Argument(..., help="A registered model.")) -> None:
    """Forget a registered model (its file is left alone)."""
    from ponder.llm import user_models

    if user_models.remove(name):
        _note(f"removed {name}; the default is the embedded default model again")
    else:
        _note(f"removed {name}")


def list_models(as_json: bool) -> None:
    """Print every model, embedded then registered: a table, or one JSON object."""
    from ponder.llm import user_models

    registry = user_models.load()
    default = registry.default or "default"
    rows = [_embedded_row(name, default) for name in _embedded_names()]
    rows += [_registered_row(model, default) for _, model in sorted(registry.models.items())]
    if as_json:
        sys.stdout.write(to_json({"default": default, "config": str(user_models.registry_file()),
                                  "models": rows}, indent=2) + "\n")
    else:
        sys.stdout.write(_table(rows))
    _warn_if_overridden()


def _embedded_names() -> list[str]:
    from ponder.llm.registry import EMBEDDED

    return list(EMBEDDED)


def _embedded_row(name: str, default: str) -> dict[str, Any]:
    from ponder.llm.registry import EMBEDDED, embedded_state

    model = EMBEDDED[name]
    state = embedded_state(model)
    return {"name": name, "kind": "embedded", "default": name == default, "size": model.size,
            "installed": state.installed, "assembled": state.assembled, "verified": state.verified,
            "path": str(state.path), "extra": model.extra}


def _registered_row(model: Any, default: str) -> dict[str, Any]:
    row: dict[str, Any] = {"name": model.name, "kind": model.kind, "default": model.name == default}
    if model.path is not None:
        try:
            size: int | None = model.path.stat().st_size if model.path.is_file() else None
        except OSError:
            size = None
        return {**row, "size": size, "installed": size is not None, "assembled": None, "verified": None,
                "path": str(model.path)}
    return {**row, "size": None, "installed": None, "assembled": None, "verified": None,
            "base_url": _url(model.base_url), "model": model.model}


def _table(rows: list[dict[str, Any]]) -> str:
    """The rows as a plain table: columns padded to their widest cell, the location last."""
    from ponder.cli.safe import one_line

    cells = [[("*" if r["default"] else ""), one_line(r["name"]), r["kind"], _size(r["size"]), _yes(r["installed"]),
              _yes(r["assembled"]), _yes(r["verified"]), one_line(_where(r))] for r in rows]
    widths = [max(len(line[i]) for line in [list(COLUMNS), *cells]) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
             for line in [list(COLUMNS), *cells]]
    return "\n".join(lines) + "\n"


def _where(row: dict[str, Any]) -> str:
    if "base_url" in row:
        return f"{row['base_url']} ({row['model'] or 'first model listed'})"
    missing = row["kind"] == "gguf" and not row["installed"]
    return row["path"] + (" (missing)" if missing else "")


def _location(model: Any) -> str:
    from ponder.cli.safe import one_line

    if model.path is not None:
        return one_line(f"GGUF {model.path}")
    return one_line(f"{_url(model.base_url)}, model {model.model or '(the first the server lists)'}")


def _url(url: str) -> str:
    from ponder.llm.openai_http import display_url

    return display_url(url)


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _note(text: str) -> None:
    sys.stderr.write(f"ponder: {text}\n")


def _warn_if_overridden() -> None:
    """Say so when $PONDER_MODEL overrides the default."""
    from ponder.cli.safe import one_line

    if os.environ.get("PONDER_MODEL"):
        _note(f"note: $PONDER_MODEL={one_line(os.environ['PONDER_MODEL'])} overrides the default")
