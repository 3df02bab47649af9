"""Apply alembic migrations: the only way the schema is created or changed."""

from __future__ import annotations

import asyncio
from importlib.resources import files

from alembic import command
from alembic.config import Config

from assistantd.db.engine import ensure_sqlite_dir


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("assistantd") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema (blocking; call from a thread)."""
    ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), "head")


async def upgrade_async(url: str) -> None:
    await asyncio.to_thread(upgrade, url)
