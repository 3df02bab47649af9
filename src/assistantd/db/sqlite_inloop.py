"""SQLite calls made directly on the event loop thread, behind aiosqlite's async API.

aiosqlite runs each call on a worker thread and hands the result back through the event loop:
two thread hops that cost ~70 µs each, several times what an indexed SQLite query itself costs
(10-30 µs in WAL mode with synchronous=NORMAL, where a commit does not fsync). The server makes
several small queries per request, so the hops, not SQLite, bounded CRUD throughput. This
connection keeps aiosqlite's interface (which SQLAlchemy's aiosqlite dialect drives through its
public `async_creator` hook) but runs each call in place.

The trade-off: a slow statement blocks the loop while it runs. Every statement the API makes is
an indexed point or range query; anything heavier (a full scan) must run in a thread with its
own connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import aiosqlite


class InLoopConnection(aiosqlite.Connection):
    """An aiosqlite connection without the worker thread."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InLoopConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InLoopConnection]:
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()

    @property
    def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection itself, for statements run in place (db/documents.py)."""
        if self._connection is None:
            raise ValueError("Connection closed")
        return self._connection


def creator(path: str) -> Callable[[], InLoopConnection]:
    """An `async_creator` for create_async_engine that opens `path` in-loop."""
    connector = partial(sqlite3.connect, path, isolation_level=None, check_same_thread=False)
    return lambda: InLoopConnection(connector, iter_chunk_size=64)
