"""The names of a run's statuses, and the ones in which a run holds its thread's lock: shared by
the runs package (its schemas and state machine, `runs.state`) and the thread lock beneath it,
which messages check too (`thread_lock`)."""

from __future__ import annotations

from typing import Literal

RunStatus = Literal[
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "cancelled",
    "failed",
    "completed",
    "incomplete",
    "expired",
]

ACTIVE: tuple[RunStatus, ...] = ("queued", "in_progress", "requires_action", "cancelling")
"""Statuses that hold the thread lock (every one but the terminal ones)."""
