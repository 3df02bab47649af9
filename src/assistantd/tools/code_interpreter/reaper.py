"""Retiring sessions: a container idle for `sandbox_idle_timeout_s`, older than
`sandbox_max_life_s` or dead is removed (its folder stays, so a later call starts afresh).
Which ones are due is decided here; `sessions.py` removes them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from .container import Container


def expired(sessions: Mapping[str, Container], now: float, idle: float, life: float) -> list[str]:
    """The keys of sessions due for retirement at monotonic time `now`."""
    return [
        key
        for key, c in sessions.items()
        if not c.alive or (not c.busy and (now - c.last_used > idle or now - c.created_at > life))
    ]


async def reap_loop(interval_s: float, reap: Callable[[], Awaitable[int]]) -> None:
    """Call `reap` every `interval_s` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        await reap()
