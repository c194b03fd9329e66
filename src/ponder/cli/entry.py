"""The `ponder` command's first code: the signal handlers before the CLI is imported.

Rule that must hold: nothing heavy is imported before `interrupts.install()`, so a Ctrl-C in the
fraction of a second the CLI takes to import (typer, the strategies) is one `ponder:
interrupted` line and exit 130 (143 for SIGTERM), never a Python traceback.
"""

from __future__ import annotations

import sys

from ponder import interrupts


def main() -> None:
    """Install the signal handlers, then import and run the CLI."""
    interrupts.install()
    try:
        from ponder.cli.app import main as run
    except KeyboardInterrupt:
        interrupts.tell()
        sys.exit(interrupts.exit_code())
    run()
