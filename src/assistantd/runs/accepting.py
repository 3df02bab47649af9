"""Refuse new run work while this node drains (SIGTERM): 503 with `Retry-After`, before
anything is written, so the client's retry lands on a node that stays (or on this one,
restarted)."""

from __future__ import annotations

from assistantd.errors import DrainingError
from assistantd.services import AppServices


async def accepting_runs(services: AppServices) -> None:
    if services.scheduler.draining:
        raise DrainingError()
