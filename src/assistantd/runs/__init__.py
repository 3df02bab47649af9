"""Runs: schemas, the state machine, and (later) router/service/store."""
