"""Stream events: typed event models, SSE encoding, the in-process broker."""
