"""The Database: one async engine and the two kinds of transaction the app uses.

SQLite statements run on the event loop thread itself (see sqlite_inloop.py for why).

SQLite allows one writer at a time. Letting concurrent requests race for the write lock makes
them spin in busy-waits (or fail with "database is locked" when a read transaction tries to
upgrade), so on SQLite every write transaction starts with BEGIN IMMEDIATE behind one asyncio
lock per process. Reads run concurrently on WAL snapshots. On PostgreSQL both kinds are plain
transactions.

Past capacity nothing hangs: a request that gets no pooled connection within the pool's timeout
is refused with 503 and `Retry-After` (OverloadedError, before it changed anything), while
background work (runs, ingestion: code running under `background()`) keeps waiting its turn,
so an accepted run is never failed, or left unfinished, for want of a connection.

Every write transaction carries an outbox (when the app set `Database.outboxes`): the side
effects its services declare (see assistantd.effects), delivered once it has committed and
dropped if it rolls back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from assistantd.db import sqlite_inloop
from assistantd.errors import OverloadedError

log = logging.getLogger(__name__)

_background: ContextVar[bool] = ContextVar("assistantd_db_background", default=False)


@contextmanager
def background() -> Iterator[None]:
    """Mark the current task as background work: it waits for a pooled connection as long as
    it takes, instead of being refused like a request."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


OUTBOX = "assistantd.outbox"
"""The key of a write transaction's outbox in its connection's `info`."""


class Outbox(Protocol):
    """What a write transaction does once it has committed (assistantd.effects.Outbox)."""

    async def prepare(self, conn: AsyncConnection) -> None:
        """Last statements of the transaction, once its body is done (before the commit)."""

    async def deliver(self) -> None: ...


SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
)


def cut_off(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached: a refused or cut connection, one
    SQLAlchemy found dead, or a PostgreSQL error of class 08 (connection exception) or 57P
    (the server shutting down or starting up)."""
    seen: BaseException | None = exc
    for _ in range(8):  # the chain of causes, however the driver wrapped it
        if seen is None:
            return False
        if isinstance(seen, ConnectionError):
            return True
        if isinstance(seen, sa_exc.DBAPIError) and seen.connection_invalidated:
            return True
        sqlstate = getattr(seen, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(("08", "57P")):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int | None = None,
        pool_timeout_s: float = 30.0,
    ) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        if self.is_sqlite:
            ensure_sqlite_dir(url)
            path = make_url(url).database or ":memory:"
            # Requests interleave on the loop while holding a connection, so the pool is sized
            # for the concurrency, not the cores; an overflow connection would be reopened
            # on every use.
            self.engine: AsyncEngine = create_async_engine(
                url,
                echo=echo,
                pool_size=pool_size or 64,
                max_overflow=0,
                pool_timeout=pool_timeout_s,
                async_creator=sqlite_inloop.creator(path),
            )
            _configure_sqlite(self.engine)
        else:
            # Every connection opened is kept (no overflow): an overflow connection is opened
            # and closed per checkout, a new PostgreSQL backend each time, exactly when the
            # process is busiest. Connections are opened as needed, so an idle process holds
            # few; the most a process holds (30 by default) is what max_connections is
            # weighed against, as before (10 kept + 20 overflow).
            self.engine = create_async_engine(
                url,
                echo=echo,
                pool_size=pool_size or 30,
                max_overflow=0,
                pool_timeout=pool_timeout_s,
            )
            _replace_closed_connections(self.engine)
        self._write_lock = asyncio.Lock()
        self.outboxes: Callable[[], Outbox] | None = None
        """Makes each write transaction's outbox (set by the app; None: effects are dropped)."""

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection; see the module docstring for what happens past capacity."""
        while True:
            conn = self.engine.connect()
            try:
                await conn.start()
                break
            except sa_exc.TimeoutError:
                if not _background.get():
                    raise OverloadedError() from None
                log.warning("database pool exhausted; background work waits for a connection")
        try:
            yield conn
        finally:
            await conn.close()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._connect() as conn:
            if self.is_sqlite:
                conn.info["autocommit_read"] = True
            try:
                async with conn.begin():
                    yield conn
            finally:
                if self.is_sqlite:
                    conn.info.pop("autocommit_read", None)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; once it has committed, the effects declared on its outbox."""
        if self.outboxes is None:
            async with self._write() as conn:
                yield conn
            return
        outbox = self.outboxes()
        async with self._write() as conn:
            conn.info[OUTBOX] = outbox
            try:
                yield conn
                await outbox.prepare(conn)  # e.g. a run's lease, taken in its own transaction
            finally:
                del conn.info[OUTBOX]
        await outbox.deliver()  # committed, and the connection (and SQLite's lock) released

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        if not self.is_sqlite:
            async with self._connect() as conn, conn.begin():
                yield conn
            return
        async with self._write_lock, self._connect() as conn:
            conn.info["begin_immediate"] = True
            try:
                async with conn.begin():
                    yield conn
            finally:
                conn.info.pop("begin_immediate", None)

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """The write transaction, under the name AsyncEngine gives it (for code that takes
        either, like the file-search index writer)."""
        return self.write()

    async def ping(self) -> None:
        """One round trip to the database (`/readyz`); raises what the driver raises."""
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite database file (no-op for other databases)."""
    parsed = make_url(url)
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _replace_closed_connections(engine: AsyncEngine) -> None:
    """A pooled connection that the driver has seen closed (the server restarted: asyncpg
    notices the socket's end while the connection is idle) is replaced at checkout, without a
    round trip. SQLAlchemy notices it too once a statement of its own fails on it, but the
    statements that go straight to the driver (db/direct.py) bypass that."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and driver.is_closed():
            raise sa_exc.DisconnectionError("the connection was closed")


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The connection was opened with isolation_level=None (sqlite_inloop.creator): the
        # driver emits no BEGIN of its own, so _on_begin chooses DEFERRED or IMMEDIATE.
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writes take the write lock up front. Reads (Database.read) run each statement in
        # SQLite's autocommit mode (its own WAL snapshot): the API's reads don't need one
        # snapshot across statements. Anything else gets a plain transaction.
        if conn.info.get("autocommit_read"):
            return
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.execute("BEGIN IMMEDIATE" if conn.info.get("begin_immediate") else "BEGIN")
        cursor.close()
