"""Migrations: the head a server compares with, and the child process that runs them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from assistantd.db import migrate


def test_head_is_the_newest_migration() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite://"))
    assert script.get_current_head() == migrate.HEAD


def test_the_child_migrates_a_new_database_and_a_second_start_finds_it_done(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/new/assistantd.db"
    assert asyncio.run(migrate.revision(url)) is None
    asyncio.run(migrate.upgrade_in_child(url))
    assert asyncio.run(migrate.revision(url)) == migrate.HEAD
    asyncio.run(migrate.upgrade_in_child(url))  # at head: nothing to run, no child
    assert asyncio.run(migrate.revision(url)) == migrate.HEAD


def test_a_failed_migration_is_an_error_of_its_own(tmp_path: Path) -> None:
    # A directory where the database file should be: SQLite cannot open it.
    (tmp_path / "db").mkdir()
    with pytest.raises(migrate.MigrationError):
        asyncio.run(migrate.upgrade_in_child(f"sqlite+aiosqlite:///{tmp_path}/db"))


def test_a_served_process_never_imports_alembic(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/assistantd.db"
    code = (
        "import asyncio, sys\n"
        "import assistantd.app\n"
        "from assistantd.db.migrate import upgrade_in_child\n"
        f"asyncio.run(upgrade_in_child({url!r}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert asyncio.run(migrate.revision(url)) == migrate.HEAD
