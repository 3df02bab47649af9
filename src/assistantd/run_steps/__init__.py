"""Run steps: schemas (objects and stream deltas)."""
