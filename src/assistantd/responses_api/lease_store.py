"""All SQL for response leases (PostgreSQL only; see durable.py).

A response being generated on PostgreSQL has a row: `node` holds it until `expires_at`
(renewed by the node's heartbeat); a lease whose `expires_at` passed belongs to a node that
died and is claimable, each claim incrementing `attempt`. `cancel` is a client's cancel, sent
to any node, that the holder notices at its next heartbeat. The row goes when the response's
final state is written (`hold` + `release` in that transaction), so a node that lost the lease
can never overwrite what the node that took it over wrote. Times are the database's clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_TAKE = text(
    """
    INSERT INTO response_leases (response_id, node, attempt, expires_at)
    VALUES (:id, :node, 1, now() + make_interval(secs => :ttl))
    """
)

_RENEW = text(
    """
    UPDATE response_leases SET expires_at = now() + make_interval(secs => :ttl)
    WHERE node = :node RETURNING response_id, attempt, cancel
    """
)

_CLAIM = text(
    """
    WITH due AS (
        SELECT l.response_id FROM response_leases l JOIN responses r ON r.id = l.response_id
        WHERE l.expires_at < now() AND r.status IN ('queued', 'in_progress')
        ORDER BY l.expires_at
        LIMIT :limit
        FOR UPDATE OF l SKIP LOCKED
    )
    UPDATE response_leases SET node = :node, attempt = response_leases.attempt + 1,
        expires_at = now() + make_interval(secs => :ttl)
    FROM due WHERE response_leases.response_id = due.response_id
    RETURNING response_leases.response_id, response_leases.attempt, response_leases.cancel
    """
)

_HOLD = text(
    """
    SELECT 1 FROM response_leases WHERE response_id = :id AND node = :node AND attempt = :attempt
    FOR UPDATE
    """
)

_RELEASE = text(
    "DELETE FROM response_leases WHERE response_id = :id AND node = :node AND attempt = :attempt"
)

_CANCEL = text(
    """
    UPDATE response_leases SET cancel = true WHERE response_id = :id
    RETURNING expires_at < now()
    """
)

_UNLEASED = text(
    """
    SELECT r.id FROM responses r LEFT JOIN response_leases l ON l.response_id = r.id
    WHERE r.status IN ('queued', 'in_progress') AND l.response_id IS NULL
    """
)


async def take(conn: AsyncConnection, response_id: str, node: str, ttl_s: float) -> None:
    """Hold a new response's lease (attempt 1), in the transaction that inserts it."""
    await conn.execute(_TAKE, {"id": response_id, "node": node, "ttl": ttl_s})


async def renew(conn: AsyncConnection, node: str, ttl_s: float) -> dict[str, tuple[int, bool]]:
    """Extend every lease `node` holds; response id -> (attempt, cancel asked)."""
    rows = await conn.execute(_RENEW, {"node": node, "ttl": ttl_s})
    return {row[0]: (int(row[1]), bool(row[2])) for row in rows}


async def claim(
    conn: AsyncConnection, node: str, ttl_s: float, limit: int
) -> list[tuple[str, int, bool]]:
    """Take over up to `limit` unfinished responses whose node stopped renewing their lease
    (SKIP LOCKED: nodes claiming at the same moment never get the same row)."""
    rows = await conn.execute(_CLAIM, {"node": node, "ttl": ttl_s, "limit": limit})
    return [(row[0], int(row[1]), bool(row[2])) for row in rows]


async def hold(conn: AsyncConnection, response_id: str, node: str, attempt: int) -> bool:
    """True (and the row locked until commit) while `node` holds attempt `attempt`."""
    params = {"id": response_id, "node": node, "attempt": attempt}
    return (await conn.execute(_HOLD, params)).first() is not None


async def release(conn: AsyncConnection, response_id: str, node: str, attempt: int) -> None:
    await conn.execute(_RELEASE, {"id": response_id, "node": node, "attempt": attempt})


async def request_cancel(conn: AsyncConnection, response_id: str) -> bool | None:
    """Ask the holder to cancel; None when no lease (the response ended), else whether the
    lease has expired (its node died: nobody will notice the request until a claim)."""
    row = (await conn.execute(_CANCEL, {"id": response_id})).first()
    return None if row is None else bool(row[0])


async def unleased(conn: AsyncConnection) -> Sequence[str]:
    """Unfinished responses without a lease (left by a server older than the leases)."""
    return [row[0] for row in await conn.execute(_UNLEASED)]
