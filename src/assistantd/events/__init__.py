"""Stream events: typed event models, the builders of the delta events (`deltas.py`), SSE
encoding, the in-process broker."""
