"""`direct.count` on PostgreSQL: a transaction's first statement goes out with its BEGIN in one
simple query, its values inlined as literals (the fence's lock of a lease row starts each fenced
write transaction this way). What must hold: the statement runs inside the transaction that the
commit or rollback ends, a value is matched as the very string it is (quotes and backslashes
included: no value is read as SQL), and a failing statement leaves the connection usable."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from assistantd.db import direct
from assistantd.db.engine import Database
from tests.conftest import _database_url

TRICKY = ["plain", "it's", "back\\slash", "\\'; DROP TABLE t; --", "naïve ☃"]


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        yield _database_url("postgres", stack, tmp_path)


async def _setup(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(text("CREATE TABLE t (k text PRIMARY KEY, n int, b boolean)"))
        for index, key in enumerate(TRICKY):
            await conn.execute(
                text("INSERT INTO t VALUES (:k, :n, :b)"),
                {"k": key, "n": index, "b": bool(index % 2)},
            )


def test_the_first_statement_counts_its_rows_inside_the_transaction(url: str) -> None:
    async def main() -> None:
        db = Database(url)
        try:
            await _setup(db)
            sql = "SELECT 1 FROM t WHERE k = ? AND n = ? AND b = ? FOR KEY SHARE"
            for index, key in enumerate(TRICKY):
                async with db.write() as conn:
                    assert await direct.count(conn, sql, [key, index, bool(index % 2)]) == 1
                    assert await direct.count(conn, sql, [key, index + 1, True]) == 0
                    async with db.write() as other:  # the row stays locked until the commit
                        with pytest.raises(sa_exc.DBAPIError, match="could not obtain lock"):
                            await other.execute(
                                text("SELECT 1 FROM t WHERE k = :k FOR UPDATE NOWAIT"), {"k": key}
                            )
            async with db.write() as conn:
                assert await direct.count(conn, "SELECT 1 FROM t WHERE k = ?", ["nobody"]) == 0
                await conn.execute(text("DELETE FROM t WHERE k = 'plain'"))
            with pytest.raises(RuntimeError):
                async with db.write() as conn:
                    assert await direct.count(conn, "SELECT 1 FROM t WHERE k = ?", ["it's"]) == 1
                    await conn.execute(text("DELETE FROM t WHERE k = 'it''s'"))
                    raise RuntimeError("rolled back")
            async with db.read() as conn:
                keys = (await conn.execute(text("SELECT k FROM t ORDER BY n"))).scalars().all()
            assert keys == TRICKY[1:]  # the first delete committed, the second rolled back
        finally:
            await db.dispose()

    asyncio.run(main())


def test_a_failing_first_statement_raises_as_sqlalchemy_and_the_connection_recovers(
    url: str,
) -> None:
    async def main() -> None:
        db = Database(url, pool_size=1)  # the same connection afterwards
        try:
            await _setup(db)
            with pytest.raises(sa_exc.DBAPIError):
                async with db.write() as conn:
                    await direct.count(conn, "SELECT 1 FROM missing WHERE k = ?", ["x"])
            async with db.write() as conn:
                assert await direct.count(conn, "SELECT 1 FROM t WHERE k = ?", ["plain"]) == 1
        finally:
            await db.dispose()

    asyncio.run(main())
