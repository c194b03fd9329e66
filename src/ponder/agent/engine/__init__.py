"""The engine: the guided chain of thought factors, its checks, model calls, the run scaffold and budget."""
