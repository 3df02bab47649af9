"""Statements sent straight to the database driver, in the transaction SQLAlchemy opened.

Building and executing a SQLAlchemy Core statement costs several times the indexed query it
sends: on PostgreSQL (asyncpg) ~0.3-1 ms of CPU per statement on the development machine
(the statement, its cache key, the execution context, the result, the greenlet hops) against
~0.1 ms for asyncpg itself, and a run makes about 20. The hot statements (the document
queries of db/documents.py, the leases', the thread lock's) therefore run here: the same SQL
text SQLAlchemy would send, with `?` marks (SQLite's) numbered `$1, $2, ...` for asyncpg.
Other statements keep going through SQLAlchemy; both share the connection and its
transaction, and SQLAlchemy's `before_cursor_execute` listeners see both.

On SQLite the raw sqlite3 connection is used as before (db/sqlite_inloop.py). On PostgreSQL
SQLAlchemy's asyncpg adapter opens the driver's transaction at the first statement: a
statement sent here opens it the same way first, and SQLAlchemy's commit or rollback ends it.
Errors come out as SQLAlchemy's (`DBAPIError` and its subclasses, the driver's error as
their `orig`), as they would from a Core statement, so the app's handlers and `cut_off` see no
difference; a connection the driver found closed is invalidated, as SQLAlchemy does, and
`Database` replaces pooled connections found closed at checkout.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

Row = Sequence[Any]


def sqlite_connection(conn: AsyncConnection) -> sqlite3.Connection | None:
    """The raw sqlite3 connection under `conn` (None on other databases)."""
    if conn.dialect.name != "sqlite":
        return None
    sync = conn.sync_connection
    if sync is None:
        return None
    driver = sync.connection.driver_connection
    return getattr(driver, "raw", None)


def _adapter(conn: AsyncConnection) -> Any | None:
    """SQLAlchemy's asyncpg adapter under `conn`, if `conn` is in a transaction on PostgreSQL
    (outside one, SQLAlchemy's autobegin is left to do its part: None)."""
    if conn.dialect.name != "postgresql" or not conn.in_transaction():
        return None
    sync = conn.sync_connection
    if sync is None or sync.invalidated:
        return None
    adapter = sync.connection.dbapi_connection
    return adapter if hasattr(adapter, "_start_transaction") else None


def direct(conn: AsyncConnection) -> bool:
    """Whether statements on `conn` can go straight to its driver (`rows`, `execute`)."""
    return sqlite_connection(conn) is not None or _adapter(conn) is not None


@functools.lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """`?` marks as asyncpg's `$1, $2, ...` (our statements hold no `?` of their own)."""
    count = 0

    def mark(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return re.sub(r"\?", mark, sql)


async def rows(conn: AsyncConnection, sql: str, args: Sequence[Any] = ()) -> list[Row]:
    """The rows of `sql` (`?` marks); `conn` must be `direct`."""
    _observed(conn, sql, args)
    raw = sqlite_connection(conn)
    if raw is not None:
        found: list[Row] = raw.execute(sql, tuple(args)).fetchall()
        return found
    return await _asyncpg(conn, "fetch", sql, args)  # type: ignore[no-any-return]


async def execute(conn: AsyncConnection, sql: str, args: Sequence[Any] = ()) -> int:
    """Run `sql` (`?` marks); the number of rows it changed. `conn` must be `direct`."""
    _observed(conn, sql, args)
    raw = sqlite_connection(conn)
    if raw is not None:
        return int(raw.execute(sql, tuple(args)).rowcount)
    status: str = await _asyncpg(conn, "execute", sql, args)
    last = status.rsplit(" ", 1)[-1]  # e.g. "UPDATE 1", "INSERT 0 1"
    return int(last) if last.isdigit() else -1


async def count(conn: AsyncConnection, sql: str, args: Sequence[Any] = ()) -> int:
    """How many rows `sql` (`?` marks; a SELECT) returned; `conn` must be `direct`.

    On PostgreSQL, when it is the first statement of the transaction, it goes out with the
    transaction's BEGIN in one round trip: one simple query, `BEGIN; <sql>` with the values
    inlined as literals (ints, bools, strings as E'' literals, so no server setting changes
    how they read), whose last command's tag (`SELECT n`) is the count. A fenced write
    transaction starts with its lease's lock this way: one round trip instead of two, the
    same statement in the same transaction. Values of other types take the usual path."""
    _observed(conn, sql, args)
    raw = sqlite_connection(conn)
    if raw is not None:
        return len(raw.execute(sql, tuple(args)).fetchall())
    adapter = _adapter(conn)
    assert adapter is not None, "not a PostgreSQL connection in a transaction"
    literals = [_literal(value) for value in args]
    if adapter._transaction is not None or None in literals:
        return len(await _asyncpg(conn, "fetch", sql, args))
    inlined = _inlined(sql, [value for value in literals if value is not None])
    async with adapter._execute_mutex:
        try:
            status: str = await _begin_with(adapter, inlined)
        except Exception as error:
            failure = error
        else:
            last = status.rsplit(" ", 1)[-1]  # "SELECT 1"
            return int(last) if last.isdigit() else 0
    await _raise_as_sqlalchemy(conn, adapter, inlined, (), failure)
    raise AssertionError("unreachable")


async def _begin_with(adapter: Any, sql: str) -> str:
    """Begin the adapter's transaction as its `_start_transaction` would (asyncpg's BEGIN,
    tracked by the adapter once the server has begun it), with `sql` in the same query."""
    if adapter.isolation_level == "autocommit":
        return str(await adapter._connection.execute(sql))
    connection = adapter._connection
    transaction = connection.transaction(
        isolation=adapter.isolation_level, readonly=adapter.readonly, deferrable=adapter.deferrable
    )
    if (
        transaction._isolation is not None
        or transaction._readonly
        or transaction._deferrable
        or connection._top_xact is not None
        or connection._protocol.is_in_transaction()
    ):  # not the plain BEGIN (never so here): the adapter's own, then the statement
        await adapter._start_transaction()
        return str(await connection.execute(sql))
    states = type(transaction._state)  # asyncpg's TransactionState (NEW here)
    connection._top_xact = transaction
    try:
        return str(await connection.execute("BEGIN;" + sql))
    finally:
        if connection._protocol.is_in_transaction():  # BEGIN ran (the statement may have failed)
            transaction._state = states.STARTED
            adapter._transaction = transaction
        else:
            transaction._state = states.FAILED
            connection._top_xact = None


def _literal(value: Any) -> str | None:
    """`value` as a PostgreSQL literal, for the types our fence statements bind; else None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and "\0" not in value:
        return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return None


def _inlined(sql: str, literals: Sequence[str]) -> str:
    """`sql` with its `?` marks replaced by `literals`, in order."""
    values = iter(literals)
    return re.sub(r"\?", lambda _: next(values), sql)


def _observed(conn: AsyncConnection, sql: str, args: Sequence[Any]) -> None:
    """Tell SQLAlchemy's `before_cursor_execute` listeners (statement counts in tests and
    benches, instrumentation), as a Core statement would: they see every statement."""
    sync = conn.sync_connection
    if sync is not None:
        sync.dispatch.before_cursor_execute(sync, None, sql, tuple(args), None, False)


async def _asyncpg(conn: AsyncConnection, method: str, sql: str, args: Sequence[Any]) -> Any:
    adapter = _adapter(conn)
    assert adapter is not None, "not a PostgreSQL connection in a transaction"
    query = numbered(sql)
    async with adapter._execute_mutex:  # as the adapter's own cursor: one statement at a time
        try:
            if adapter._transaction is None:
                await adapter._start_transaction()
            return await getattr(adapter._connection, method)(query, *args)
        except Exception as error:
            failure = error
    await _raise_as_sqlalchemy(conn, adapter, query, args, failure)


async def _raise_as_sqlalchemy(
    conn: AsyncConnection, adapter: Any, query: str, args: Sequence[Any], error: Exception
) -> None:
    """Raise `error` as a Core statement would have: translated by the adapter (asyncpg's
    errors to the DBAPI's), then wrapped in SQLAlchemy's `DBAPIError`; a closed connection is
    invalidated (it is not given back to the pool)."""
    closed = bool(adapter._connection.is_closed())
    try:
        if isinstance(error, adapter.dbapi.Error):
            raise error  # already translated (the adapter's BEGIN)
        adapter._handle_exception(error)  # always raises
    except adapter.dbapi.Error as dbapi_error:
        if closed:
            await conn.invalidate(dbapi_error)
        raise sa_exc.DBAPIError.instance(
            query,
            tuple(args),
            dbapi_error,
            adapter.dbapi.Error,
            connection_invalidated=closed,
            dialect=conn.dialect,
        ) from dbapi_error
