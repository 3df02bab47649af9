"""All SQL of leases, for any lease table (`run_leases`, `response_leases`); PostgreSQL only.

A row says which node holds a job until when: held (`node` set, `expires_at` in the future,
renewed by the node's heartbeat), offered (`node` NULL, `expires_at` set: any node may claim it
once that has passed) or idle (both NULL: the job is not running). A table whose rows go when
the job ends (`delete_on_release`) has no idle rows. A lease whose `expires_at` passed while
`node` is still set belongs to a node that stopped renewing it (it died): it is claimable like
an offer, `FOR UPDATE SKIP LOCKED`, by any node, if its job is still running.

Fencing: every claim or take of a held row increments `attempt`; a writer proves it still holds
the lease by locking its row (`hold`) in the same transaction as its write, so a claim waits
for (or skips) that write until it commits, and every write after the claim is refused. Times
are the database's clock, never a node's.

Lock levels matter: `hold` takes FOR KEY SHARE, which conflicts with the FOR UPDATE-level lock
of a claim or a take (the only statements that change `attempt`), but not with the plain
UPDATEs of a heartbeat's renewal or a release. A renewal waiting behind a job's open write
transaction would queue every later `hold` behind it, and a run's write-behind waits for the
run's own transaction (an asyncio lock the database cannot see): a deadlock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import direct


@dataclass(frozen=True)
class LeaseTable:
    """Where a kind of job keeps its leases (names from the code, never from a request)."""

    table: str  # e.g. run_leases
    key: str  # its job's id column, e.g. run_id
    jobs: str  # the jobs' table, e.g. runs (its `id` and `status`)
    running: tuple[str, ...]  # the job statuses a claim takes over
    flag: str | None = None  # a boolean column a renewal and a claim report (a cancel asked)
    delete_on_release: bool = False  # the row goes when the job ends (else it stays idle)


class _Statement:
    """One statement, sent straight to the driver where it can be (db/direct.py: the same SQL
    with `?` marks in the names' order), else through SQLAlchemy (`:name` parameters)."""

    def __init__(self, sql: str) -> None:
        self.text = text(sql)
        self._names = re.findall(r"(?<![:\w]):(\w+)", sql)
        self._marked = re.sub(r"(?<![:\w]):(\w+)", "?", sql)

    async def rows(self, conn: AsyncConnection, params: dict[str, object]) -> Sequence[Any]:
        if direct.direct(conn):
            return await direct.rows(conn, self._marked, [params[n] for n in self._names])
        return list(await conn.execute(self.text, params))

    async def count(self, conn: AsyncConnection, params: dict[str, object]) -> int:
        """How many rows it returned (first in a transaction: with the BEGIN, direct.count)."""
        if direct.direct(conn):
            return await direct.count(conn, self._marked, [params[n] for n in self._names])
        return len(list(await conn.execute(self.text, params)))

    async def execute(self, conn: AsyncConnection, params: dict[str, object]) -> None:
        if direct.direct(conn):
            await direct.execute(conn, self._marked, [params[n] for n in self._names])
        else:
            await conn.execute(self.text, params)


@dataclass(frozen=True)
class Held:
    attempt: int
    flag: bool = False


@dataclass(frozen=True)
class Claimed:
    key: str
    attempt: int
    flag: bool = False


class Leases:
    """The statements of one lease table."""

    def __init__(self, lt: LeaseTable) -> None:
        self.table = lt
        t, k = lt.table, lt.key
        flag = f"l.{lt.flag}" if lt.flag else "false"
        running = ", ".join(f"'{status}'" for status in lt.running)
        ttl = "now() + make_interval(secs => :ttl)"
        self._take_new = _Statement(
            f"INSERT INTO {t} ({k}, node, attempt, expires_at) VALUES (:key, :node, 1, {ttl}) "
            f"ON CONFLICT ({k}) DO NOTHING RETURNING attempt"
        )
        # An explicit FOR UPDATE (ON CONFLICT DO UPDATE would lock below a writer's KEY SHARE).
        self._take = _Statement(
            f"WITH free AS (SELECT {k} FROM {t} WHERE {k} = :key "
            f"AND (node IS NULL OR expires_at < now()) FOR UPDATE) "
            f"UPDATE {t} l SET node = :node, attempt = l.attempt + 1, expires_at = {ttl} "
            f"FROM free WHERE l.{k} = free.{k} RETURNING l.attempt"
        )
        self._offer = _Statement(
            f"INSERT INTO {t} ({k}, node, attempt, expires_at) "
            f"VALUES (:key, NULL, 0, now() + make_interval(secs => :delay)) "
            f"ON CONFLICT ({k}) DO UPDATE SET expires_at = EXCLUDED.expires_at "
            f"WHERE {t}.node IS NULL"
        )
        renew = f"UPDATE {t} l SET expires_at = {ttl} WHERE node = :node"
        returning = f" RETURNING l.{k}, l.attempt, {flag}"
        self._renew_all = _Statement(renew + returning)
        self._renew = _Statement(renew + f" AND l.{k} = ANY(:keys)" + returning)
        self._claim = _Statement(
            f"WITH due AS (SELECT l.{k} FROM {t} l JOIN {lt.jobs} j ON j.id = l.{k} "
            f"WHERE l.expires_at < now() AND j.status IN ({running}) "
            f"ORDER BY l.expires_at LIMIT :limit FOR UPDATE OF l SKIP LOCKED) "
            f"UPDATE {t} l SET node = :node, attempt = l.attempt + 1, expires_at = {ttl} "
            f"FROM due WHERE l.{k} = due.{k} RETURNING l.{k}, l.attempt, {flag}"
        )
        self._hold = _Statement(
            f"SELECT 1 FROM {t} WHERE {k} = :key AND node = :node AND attempt = :attempt "
            f"FOR KEY SHARE"
        )
        mine = f"WHERE {k} = :key AND node = :node AND attempt = :attempt"
        self._release = _Statement(
            f"DELETE FROM {t} {mine}"
            if lt.delete_on_release
            else f"UPDATE {t} SET node = NULL, "
            f"expires_at = CASE WHEN :offer THEN now() ELSE NULL END {mine}"
        )

    async def take(self, conn: AsyncConnection, key: str, node: str, ttl_s: float) -> int | None:
        """Hold the job's lease unless a live node holds it; the new attempt number, or None."""
        params: dict[str, object] = {"key": key, "node": node, "ttl": ttl_s}
        found = await self._take_new.rows(conn, params)
        if not found:
            found = await self._take.rows(conn, params)
        return int(found[0][0]) if found else None

    async def offer(self, conn: AsyncConnection, key: str, delay_s: float = 0.0) -> None:
        """Let any node claim the job after `delay_s` (unless a node holds it)."""
        await self._offer.execute(conn, {"key": key, "delay": delay_s})

    async def renew(
        self, conn: AsyncConnection, node: str, ttl_s: float, keys: Sequence[str] | None = None
    ) -> dict[str, Held]:
        """Extend the leases `node` holds (of `keys` only, if given: the jobs it still
        executes, so that one whose task is gone expires); key -> what it still holds."""
        if keys is not None and not keys:
            return {}
        params: dict[str, object] = {"node": node, "ttl": ttl_s}
        if keys is not None:
            params["keys"] = list(keys)
        rows = await (self._renew_all if keys is None else self._renew).rows(conn, params)
        return {row[0]: Held(int(row[1]), bool(row[2])) for row in rows}

    async def claim(
        self, conn: AsyncConnection, node: str, ttl_s: float, limit: int
    ) -> list[Claimed]:
        """Take over up to `limit` running jobs whose lease expired or was offered (SKIP LOCKED:
        nodes claiming at the same moment never wait for, or get, the same row)."""
        rows = await self._claim.rows(conn, {"node": node, "ttl": ttl_s, "limit": limit})
        return [Claimed(row[0], int(row[1]), bool(row[2])) for row in rows]

    async def hold(self, conn: AsyncConnection, key: str, node: str, attempt: int) -> bool:
        """True (and the row locked until commit) while `node` holds attempt `attempt`."""
        params: dict[str, object] = {"key": key, "node": node, "attempt": attempt}
        return bool(await self._hold.count(conn, params))

    async def release(
        self, conn: AsyncConnection, key: str, node: str, attempt: int, *, offer: bool = False
    ) -> None:
        """Give the lease up: idle or gone (the job stopped running), or offered to the other
        nodes now (`offer`, on a table that keeps its rows)."""
        params: dict[str, object] = {"key": key, "node": node, "attempt": attempt}
        if not self.table.delete_on_release:
            params["offer"] = offer
        await self._release.execute(conn, params)
