"""The SQL of run leases (PostgreSQL only: the leased scheduler runs on nothing else): the
table, whose statements are the one lease mechanism's (`leases/store.py`: held, offered or
idle rows; claims with `FOR UPDATE SKIP LOCKED`; fencing by attempt), and what only runs ask.
A run's lease stays (idle) when the run stops running: it is taken again, at the next attempt,
when the run resumes (`submit_tool_outputs`, a cancel to finish).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.leases.store import Leases, LeaseTable

LEASES = Leases(LeaseTable("run_leases", "run_id", "runs", ("queued", "in_progress", "cancelling")))

# Running runs that no node holds or has been offered (a node died between committing a run
# and taking its lease, or a run older than leases): offered after `grace` seconds, which
# leaves the node that accepted the run the time to take it itself.
_ADOPT = text(
    """
    INSERT INTO run_leases (run_id, node, attempt, expires_at)
    SELECT id, NULL, 0, now() + make_interval(secs => :grace)
    FROM runs WHERE status IN ('queued', 'in_progress', 'cancelling')
    ON CONFLICT (run_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
        WHERE run_leases.node IS NULL AND run_leases.expires_at IS NULL
    """
)


async def adopt_unleased(conn: AsyncConnection, grace_s: float) -> None:
    await conn.execute(_ADOPT, {"grace": grace_s})


async def cancelling(conn: AsyncConnection, run_ids: Sequence[str]) -> list[str]:
    """Which of `run_ids` a client asked to cancel (polled by the node executing them)."""
    if not run_ids:
        return []
    query = text("SELECT id FROM runs WHERE id = ANY(:ids) AND status = 'cancelling'")
    return [row[0] for row in await conn.execute(query, {"ids": list(run_ids)})]
