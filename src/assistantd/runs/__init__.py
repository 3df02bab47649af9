"""Runs: the API resource (router, schemas, service, store), the run state machine (`state.py`)
and the one-run-per-thread lock (`lock.py`). Executing a run is `executor/`'s."""
