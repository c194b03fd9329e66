"""What a killed ponder leaves behind, named with its pid, found so that a later run removes it.

Rules that must hold:
- A leftover is an entry named PREFIX + pid + '-' + anything whose process is gone and which
  is unchanged for at least `min_age` seconds (a pid of another pid namespace sharing the
  folder looks dead from here: the age keeps a live run's entry, which it keeps writing, safe).
- Finding removes nothing: callers remove what they own.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def left_by_the_dead(root: Path, prefix: str, min_age: float = 0.0, directories: bool = True) -> list[Path]:
    """Entries of root named prefix + a pid + '-' (directories, or else regular files) whose
    process is gone, unchanged for min_age seconds."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    now = time.time()
    found = []
    for path in entries:
        pid = path.name[len(prefix):].partition("-")[0]
        if not (path.name.startswith(prefix) and pid.isdigit() and int(pid) > 0) or alive(int(pid)):
            continue
        try:
            info = path.lstat()
        except OSError:
            continue
        kind = stat.S_ISDIR(info.st_mode) if directories else stat.S_ISREG(info.st_mode)
        if kind and now - info.st_mtime >= min_age:
            found.append(path)
    return found
