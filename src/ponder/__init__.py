"""ponder: a command-line reasoner that makes a small local model think slowly and check itself."""

__version__ = "0.1.0"
