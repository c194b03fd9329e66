"""Verifiers: running model-written code, answer extraction and equivalence."""
