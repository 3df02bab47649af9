"""Time as the API shows it: whole Unix seconds (`created_at`, `completed_at`, `expires_at`)."""

from __future__ import annotations

import time


def unix_now() -> int:
    """The current time in whole Unix seconds."""
    return int(time.time())
