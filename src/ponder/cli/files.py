"""Writing a user's output file whole (a report, an exported run).

Rules that must hold: the text goes to a temporary file beside the target and is moved into
place with one `os.replace`, so a failed write (a full disk, a folder that is not there)
leaves the old file as it was and no temporary file behind; a symlink is written through, to
its target, as a plain write would; a failure is one `WriteError` line (exit 1).
"""

from __future__ import annotations

import os
from pathlib import Path

from ponder.trace.jsonl import WriteError


def write_whole(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write `text` to `path` whole, or raise WriteError naming the path."""
    target = Path(os.path.realpath(path))
    temp = target.with_name(f".{target.name}.tmp")
    try:
        temp.write_text(text, encoding=encoding)
        os.replace(temp, target)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)
