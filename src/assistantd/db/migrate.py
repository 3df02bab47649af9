"""Apply alembic migrations: the only way the schema is created or changed.

A served process never imports alembic: `upgrade_in_child` asks the database for its revision
and, unless it is already `HEAD`, runs the migrations in a short-lived child interpreter
(`python -m assistantd.db.migrate`). alembic and its migration modules are ~10 MB of a
process's memory and ~1 s of its start, kept for as long as it serves. Short-lived commands
and tests call `upgrade`, which imports alembic here only when there is something to do.
"""

from __future__ import annotations

import asyncio
import sys
from importlib.resources import files
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from assistantd.db.engine import ensure_sqlite_dir

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration's revision (the versions directory's head). A unit test checks it
# against alembic's own view, so a new migration cannot be added without changing it here.
HEAD = "0450_pgvector_halfvec_index"


class MigrationError(RuntimeError):
    """The child that ran the migrations failed; its own error is on stderr."""


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("assistantd") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def revision(url: str) -> str | None:
    """The database's schema revision, or None when it has none (a new database)."""
    ensure_sqlite_dir(url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            row = rows.first()
    except DBAPIError:  # no alembic_version table yet
        return None
    finally:
        await engine.dispose()
    return None if row is None else str(row[0])


def _upgrade_here(url: str) -> None:
    from alembic import command

    ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), "head")


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema (blocking; call from a thread)."""
    if asyncio.run(revision(url)) != HEAD:
        _upgrade_here(url)


async def upgrade_async(url: str) -> None:
    if await revision(url) != HEAD:
        await asyncio.to_thread(_upgrade_here, url)


async def upgrade_in_child(url: str) -> None:
    """`upgrade`, with alembic imported by a child process rather than this one. The URL
    (it may hold a password) goes to the child on its standard input, not its command line."""
    if await revision(url) == HEAD:
        return
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assistantd.db.migrate", stdin=asyncio.subprocess.PIPE
    )
    await child.communicate(url.encode())
    if child.returncode != 0:
        raise MigrationError(f"the database migration failed (exit status {child.returncode})")


if __name__ == "__main__":
    _upgrade_here(sys.stdin.read())
