"""The SQL of response leases (PostgreSQL only; see durable.py): the table, whose statements
are the one lease mechanism's (`leases/store.py`, as runs' leases), and what only responses
ask. A response being generated has a row: `node` holds it until `expires_at` (renewed by the
node's heartbeat); a lease whose `expires_at` passed belongs to a node that died and is
claimable, each claim incrementing `attempt`. `cancel` is a client's cancel, sent to any node,
that the holder notices at its next heartbeat. The row goes when the response's final state is
written (`hold` + `release` in that transaction), so a node that lost the lease can never
overwrite what the node that took it over wrote. Times are the database's clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.leases.store import Leases, LeaseTable

LEASES = Leases(
    LeaseTable(
        "response_leases",
        "response_id",
        "responses",
        ("queued", "in_progress"),
        flag="cancel",
        delete_on_release=True,
    )
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


async def request_cancel(conn: AsyncConnection, response_id: str) -> bool | None:
    """Ask the holder to cancel; None when no lease (the response ended), else whether the
    lease has expired (its node died: nobody will notice the request until a claim)."""
    row = (await conn.execute(_CANCEL, {"id": response_id})).first()
    return None if row is None else bool(row[0])


async def unleased(conn: AsyncConnection) -> Sequence[str]:
    """Unfinished responses without a lease (left by a server older than the leases)."""
    return [row[0] for row in await conn.execute(_UNLEASED)]
