"""Loading sqlite-vec into every SQLite connection the server opens.

Owns the one thing SQLite needs before the chunk index can run: the `vec_*` SQL functions of
the `sqlite-vec` package. Two routes, because Python builds differ:

* Builds with loadable-extension support (python.org installers, uv's managed Pythons, Debian's
  python3): `enable_load_extension` + `load_extension` on each connection. Through aiosqlite the
  sqlite3 connection lives on aiosqlite's worker thread, so the calls go through
  `AdaptedConnection.run_async`, which runs aiosqlite's own async wrappers on that thread.
* Builds without it (pyenv's default, which has no `enable_load_extension` at all): register
  sqlite-vec's entry point with `sqlite3_auto_extension` in the process's libsqlite3 through
  ctypes, so every connection opened *afterwards* has the functions. This needs the registration
  to happen before a connection opens: `install_sqlite_extensions(engine)` hooks the engine's
  `do_connect` event (before the DBAPI connect) for that.

It must not create tables or run queries other than the check that the functions are there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import sqlite3
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_registered = False
_register_lock = threading.Lock()
# Kept alive for the life of the process: SQLite holds pointers into both libraries.
_libraries: list[ctypes.CDLL] = []


class SqliteExtensionError(RuntimeError):
    """sqlite-vec could not be made available on a connection."""


def _loadable_path() -> str:
    """`sqlite_vec.loadable_path()` without importing the package: its `__init__` imports
    numpy when installed (~15 MB of a served process's idle RSS, docs/performance.md)."""
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or not spec.submodule_search_locations:
        raise SqliteExtensionError("The sqlite-vec package is not installed.")
    return os.path.join(next(iter(spec.submodule_search_locations)), "vec0")


def register_sqlite_extensions() -> None:
    """Make sqlite-vec load into every SQLite connection opened from now on (idempotent).

    Does nothing when this Python can load extensions per connection.
    """
    global _registered
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return
    with _register_lock:
        if _registered:
            return
        # The libsqlite3 that `_sqlite3` is linked against is already loaded, and dlopen hands
        # back that same instance for the same soname.
        name = ctypes.util.find_library("sqlite3") or "libsqlite3.so.0"
        libsqlite = ctypes.CDLL(name)
        vec = ctypes.CDLL(_loadable_path() + ".so")
        init = ctypes.cast(vec.sqlite3_vec_init, ctypes.c_void_p)
        libsqlite.sqlite3_auto_extension.argtypes = [ctypes.c_void_p]
        if libsqlite.sqlite3_auto_extension(init) != 0:
            raise SqliteExtensionError("sqlite3_auto_extension failed for sqlite-vec.")
        _libraries.extend([libsqlite, vec])
        _registered = True


def _driver_connection(dbapi_connection: Any) -> Any:
    """The aiosqlite connection behind SQLAlchemy's adapter, or the sqlite3 connection itself."""
    return getattr(dbapi_connection, "driver_connection", dbapi_connection)


def _load_directly(dbapi_connection: Any) -> None:
    path = _loadable_path()
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.enable_load_extension(True)
        dbapi_connection.load_extension(path)
        dbapi_connection.enable_load_extension(False)
        return

    async def load(connection: Any) -> None:  # an aiosqlite.Connection
        await connection.enable_load_extension(True)
        await connection.load_extension(path)
        await connection.enable_load_extension(False)

    dbapi_connection.run_async(load)


def _has_vec(dbapi_connection: Any) -> bool:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT vec_version()")
        cursor.fetchall()
        return True
    except Exception:  # the driver's OperationalError: "no such function"
        return False
    finally:
        cursor.close()


def load_sqlite_extensions(dbapi_connection: Any) -> None:
    """Ensure sqlite-vec is loaded on a freshly opened connection (an engine `connect` hook).

    Accepts SQLAlchemy's adapted aiosqlite connection or a plain `sqlite3.Connection`.
    """
    register_sqlite_extensions()
    if _has_vec(dbapi_connection):
        return
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        raise SqliteExtensionError(
            "This Python cannot load SQLite extensions per connection and the connection was "
            "opened before sqlite-vec was registered: call register_sqlite_extensions() (or "
            "install_sqlite_extensions(engine)) before the first connection opens."
        )
    _load_directly(dbapi_connection)


def install_sqlite_extensions(engine: AsyncEngine) -> None:
    """Hook sqlite-vec into every connection of a SQLite engine (a no-op for other dialects)."""
    if engine.dialect.name != "sqlite":
        return
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "do_connect")
    def _before_connect(*_: Any) -> None:
        register_sqlite_extensions()  # returning None lets the dialect connect as usual

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        load_sqlite_extensions(dbapi_connection)
