"""The engine: the thought-factor state machine and the runs built on it."""
