"""The exception hierarchy, and the exit code each error maps to.

    PonderError                 exit 1: a runtime failure
    ├── CatalogueError          exit 1: the factor catalogue (package data) is malformed: a bug
    ├── UsageError              exit 2: the user asked for something malformed
    └── ModelError              exit 3: the model is missing, corrupt or cannot be loaded

Errors the *model* causes (bad tags, failing checks, runaway text) are never exceptions:
the engine records them as events and carries on. Exceptions are for problems of the
environment or the user's input, and every one carries a message fit for one line of stderr.
"""

from __future__ import annotations


class PonderError(Exception):
    """A failure to report to the user in one line."""

    exit_code = 1


class CatalogueError(PonderError):
    """The factor catalogue is malformed (a bug in the package data, caught when it loads)."""


class UsageError(PonderError):
    """The user's input or flags are unusable."""

    exit_code = 2


class ModelError(PonderError):
    """The model is missing, corrupt, or failed to load."""

    exit_code = 3


EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_MODEL = 3
EXIT_BATCH_FAILED = 4
EXIT_INTERRUPTED = 130
