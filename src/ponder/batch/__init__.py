"""Batches of questions: reading question files, resumable JSONL results, evaluation metrics."""
