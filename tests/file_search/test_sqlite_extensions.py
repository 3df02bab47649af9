from __future__ import annotations

import sqlite3

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from assistantd.file_search.sqlite_extensions import (
    install_sqlite_extensions,
    load_sqlite_extensions,
    register_sqlite_extensions,
)


def test_plain_sqlite3_connection() -> None:
    register_sqlite_extensions()
    connection = sqlite3.connect(":memory:")
    try:
        load_sqlite_extensions(connection)
        assert connection.execute("SELECT vec_version()").fetchone()[0].startswith("v")
    finally:
        connection.close()


async def test_every_pooled_aiosqlite_connection_has_sqlite_vec() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    install_sqlite_extensions(engine)
    try:
        for _ in range(2):
            async with engine.connect() as conn:
                distance = await conn.scalar(
                    text("SELECT vec_distance_hamming(vec_bit(X'F0'), vec_bit(X'0F'))")
                )
                assert distance == 8
    finally:
        await engine.dispose()
