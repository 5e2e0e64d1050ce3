"""Pipeline registry (deploy = immutable snapshot) and runs (start, history, repair)."""
