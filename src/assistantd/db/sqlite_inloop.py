"""SQLite calls made directly on the event loop thread, behind aiosqlite's async interface.

aiosqlite runs each call on a worker thread and hands the result back through the event loop:
two thread hops that cost ~70 µs each, several times what an indexed SQLite query itself costs
(10-30 µs in WAL mode with synchronous=NORMAL, where a commit does not fsync). The server makes
several small queries per request, so the hops, not SQLite, bounded CRUD throughput.

So this module owns the sqlite3 connection and offers the async interface of an aiosqlite
connection and cursor (the public methods SQLAlchemy's aiosqlite dialect drives, given our
connection through its documented `async_creator` hook), each call running in place. Nothing of
aiosqlite's internals is used or subclassed; aiosqlite stays the dialect's import (its exception
classes are sqlite3's own). One attribute is not aiosqlite's public API: `_connection`, which
SQLAlchemy's adapter reads to know whether the connection is still open before a commit or a
rollback; it holds the sqlite3 connection, or None once closed, exactly as aiosqlite's does.

The trade-off: a slow statement blocks the loop while it runs. Every statement the API makes is
an indexed point or range query; anything heavier (a full scan) must run in a thread with its
own connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Generator, Iterable
from functools import partial
from typing import Any, Self


class InLoopCursor:
    """An aiosqlite-style cursor over a sqlite3 cursor: every call runs in place."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def execute(self, sql: str, parameters: Any = None) -> Self:
        self._cursor.execute(sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Self:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def __aiter__(self) -> AsyncIterator[Any]:
        while (row := self._cursor.fetchone()) is not None:
            yield row


class InLoopConnection:
    """An aiosqlite-style connection that owns its sqlite3 connection, without a worker thread.
    Awaiting it opens the database (as `await aiosqlite.connect(...)` does)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        self._connector = connector
        # the open sqlite3 connection, None once closed (read by SQLAlchemy's adapter, see above)
        self._connection: sqlite3.Connection | None = None

    def __await__(self) -> Generator[Any, None, Self]:
        return self._open().__await__()

    async def _open(self) -> Self:
        if self._connection is None:
            self._connection = self._connector()
        return self

    @property
    def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection itself, for statements run in place (db/documents.py)."""
        if self._connection is None:
            raise ValueError("Connection closed")
        return self._connection

    def cursor(self) -> InLoopCursor:
        """A new cursor; `async with connection.cursor() as cursor` or used as it is."""
        return InLoopCursor(self.raw.cursor())

    async def execute(self, sql: str, parameters: Any = None) -> InLoopCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        self.raw.commit()

    async def rollback(self) -> None:
        self.raw.rollback()

    async def create_function(
        self, name: str, num_params: int, func: Callable[..., Any], deterministic: bool = False
    ) -> None:
        self.raw.create_function(name, num_params, func, deterministic=deterministic)

    async def enable_load_extension(self, value: bool) -> None:
        self.raw.enable_load_extension(value)

    async def load_extension(self, path: str) -> None:
        self.raw.load_extension(path)

    @property
    def isolation_level(self) -> str | None:
        return self.raw.isolation_level

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    def stop(self) -> None:
        """Close now (SQLAlchemy's terminate of an invalidated connection)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def creator(path: str) -> Callable[[], InLoopConnection]:
    """An `async_creator` for create_async_engine that opens `path` in-loop."""
    connector = partial(sqlite3.connect, path, isolation_level=None, check_same_thread=False)
    return lambda: InLoopConnection(connector)
