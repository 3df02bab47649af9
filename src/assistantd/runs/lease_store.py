"""All SQL for run leases (PostgreSQL only: the leased scheduler runs on nothing else).

A row is in one of three states:

* held: `node` set, `expires_at` in the future (renewed by the node's heartbeat);
* offered: `node` NULL, `expires_at` set: any node may claim it once `expires_at` has passed;
* idle: `node` and `expires_at` NULL (the run is not running: requires_action, or ended).

A lease whose `expires_at` passed while `node` is still set belongs to a node that stopped
renewing it (it died): it is claimable like an offer. Every claim increments `attempt`; a
writer proves it still holds the lease by locking its row (`hold`) in the same transaction as
its write, so a claim waits for (or skips) that write until it commits, and every write after
the claim is refused. Times are the database's clock, never a node's.

Lock levels matter: `hold` takes FOR KEY SHARE, which conflicts with the FOR UPDATE-level lock
of a claim or a take (the only statements that change `attempt`), but not with the plain
UPDATEs of a heartbeat's renewal or a release. A renewal waiting behind a run's open write
transaction would queue every later `hold` behind it, and the write-behind's own transaction
waits for the run's (an asyncio lock the database cannot see): a deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_TAKE_NEW = text(
    """
    INSERT INTO run_leases (run_id, node, attempt, expires_at)
    VALUES (:run_id, :node, 1, now() + make_interval(secs => :ttl))
    ON CONFLICT (run_id) DO NOTHING
    RETURNING attempt
    """
)

# An explicit FOR UPDATE (ON CONFLICT DO UPDATE would lock below a writer's FOR KEY SHARE).
_TAKE = text(
    """
    WITH free AS (
        SELECT run_id FROM run_leases
        WHERE run_id = :run_id AND (node IS NULL OR expires_at < now())
        FOR UPDATE
    )
    UPDATE run_leases SET node = :node, attempt = run_leases.attempt + 1,
        expires_at = now() + make_interval(secs => :ttl)
    FROM free WHERE run_leases.run_id = free.run_id
    RETURNING run_leases.attempt
    """
)

_OFFER = text(
    """
    INSERT INTO run_leases (run_id, node, attempt, expires_at)
    VALUES (:run_id, NULL, 0, now() + make_interval(secs => :delay))
    ON CONFLICT (run_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
        WHERE run_leases.node IS NULL
    """
)

_RENEW = text(
    """
    UPDATE run_leases SET expires_at = now() + make_interval(secs => :ttl)
    WHERE node = :node AND run_id = ANY(:ids) RETURNING run_id, attempt
    """
)

_CLAIM = text(
    """
    WITH due AS (
        SELECT l.run_id FROM run_leases l JOIN runs r ON r.id = l.run_id
        WHERE l.expires_at < now() AND r.status IN ('queued', 'in_progress', 'cancelling')
        ORDER BY l.expires_at
        LIMIT :limit
        FOR UPDATE OF l SKIP LOCKED
    )
    UPDATE run_leases SET node = :node, attempt = run_leases.attempt + 1,
        expires_at = now() + make_interval(secs => :ttl)
    FROM due WHERE run_leases.run_id = due.run_id
    RETURNING run_leases.run_id, run_leases.attempt
    """
)

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

_HOLD = text(
    """
    SELECT 1 FROM run_leases WHERE run_id = :run_id AND node = :node AND attempt = :attempt
    FOR KEY SHARE
    """
)

_RELEASE = text(
    """
    UPDATE run_leases SET node = NULL,
        expires_at = CASE WHEN :offer THEN now() ELSE NULL END
    WHERE run_id = :run_id AND node = :node AND attempt = :attempt
    """
)


async def take(conn: AsyncConnection, run_id: str, node: str, ttl_s: float) -> int | None:
    """Hold the run's lease unless a live node holds it; the new attempt number, or None."""
    params = {"run_id": run_id, "node": node, "ttl": ttl_s}
    row = (await conn.execute(_TAKE_NEW, params)).first()
    if row is None:
        row = (await conn.execute(_TAKE, params)).first()
    return None if row is None else int(row[0])


async def offer(conn: AsyncConnection, run_id: str, delay_s: float = 0.0) -> None:
    """Let any executing node claim the run after `delay_s` (unless a node holds it)."""
    await conn.execute(_OFFER, {"run_id": run_id, "delay": delay_s})


async def renew(
    conn: AsyncConnection, node: str, ttl_s: float, run_ids: Sequence[str]
) -> dict[str, int]:
    """Extend the leases `node` holds of `run_ids` (the runs it still executes: a lease whose
    task is gone, e.g. it died on a database outage before it could end the run or give the
    lease up, expires and is taken over like a dead node's); run id -> attempt of those it
    still holds."""
    if not run_ids:
        return {}
    rows = await conn.execute(_RENEW, {"node": node, "ttl": ttl_s, "ids": list(run_ids)})
    return {row[0]: int(row[1]) for row in rows}


async def claim(
    conn: AsyncConnection, node: str, ttl_s: float, limit: int
) -> list[tuple[str, int]]:
    """Take over up to `limit` running runs whose lease expired or was offered (SKIP LOCKED:
    nodes claiming at the same moment never wait for, or get, the same row)."""
    rows = await conn.execute(_CLAIM, {"node": node, "ttl": ttl_s, "limit": limit})
    return [(row[0], int(row[1])) for row in rows]


async def adopt_unleased(conn: AsyncConnection, grace_s: float) -> None:
    await conn.execute(_ADOPT, {"grace": grace_s})


async def hold(conn: AsyncConnection, run_id: str, node: str, attempt: int) -> bool:
    """True (and the row locked until commit) while `node` holds attempt `attempt`."""
    params = {"run_id": run_id, "node": node, "attempt": attempt}
    return (await conn.execute(_HOLD, params)).first() is not None


async def release(
    conn: AsyncConnection, run_id: str, node: str, attempt: int, *, offer: bool = False
) -> None:
    """Give the lease up: idle (the run stopped running), or offered to other nodes now."""
    params = {"run_id": run_id, "node": node, "attempt": attempt, "offer": offer}
    await conn.execute(_RELEASE, params)


async def cancelling(conn: AsyncConnection, run_ids: Sequence[str]) -> list[str]:
    """Which of `run_ids` a client asked to cancel (polled by the node executing them)."""
    if not run_ids:
        return []
    query = text("SELECT id FROM runs WHERE id = ANY(:ids) AND status = 'cancelling'")
    return [row[0] for row in await conn.execute(query, {"ids": list(run_ids)})]
