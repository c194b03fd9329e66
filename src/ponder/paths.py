"""Where ponder keeps files: platformdirs locations, each overridable by an environment variable.

PONDER_CACHE_DIR   assembled models                    (default: the user cache dir)
PONDER_DATA_DIR    traces of runs                      (default: the user data dir)
PONDER_CONFIG_DIR  registered models (`models.json`)   (default: the user config dir)
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "ponder"


def cache_dir() -> Path:
    """Directory for assembled model files."""
    env = os.environ.get("PONDER_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


def data_dir() -> Path:
    """Directory for user data (traces)."""
    env = os.environ.get("PONDER_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def config_dir() -> Path:
    """Directory for user settings (the registered models)."""
    env = os.environ.get("PONDER_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def trace_dir() -> Path:
    """Default directory for run traces."""
    return data_dir() / "traces"
