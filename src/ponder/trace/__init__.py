"""Trace events, their JSONL form, and the tree they fold into."""
