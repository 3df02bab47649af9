"""Settings make every path absolute once, against the directory the server started in."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistantd.settings import Settings
from assistantd.tools.code_interpreter import docker_config as dc


def test_default_data_dir_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("ASSISTANTD_DATA_DIR", "ASSISTANTD_SANDBOX_DIR", "ASSISTANTD_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.data_dir == tmp_path.resolve() / "data"
    assert settings.sandbox_files_dir == tmp_path.resolve() / "data" / "sandbox"
    assert (
        settings.effective_database_url
        == f"sqlite+aiosqlite:///{tmp_path.resolve()}/data/assistantd.db"
    )
    # What the engine is given: an absolute bind path (a relative one reads as a volume name).
    binds = dc.host_config(settings, settings.sandbox_files_dir / "thread_x")["Binds"]
    assert binds == [f"{tmp_path.resolve()}/data/sandbox/thread_x:/mnt/data:rw"]


def test_relative_paths_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSISTANTD_DATA_DIR", "state/./d")
    monkeypatch.setenv("ASSISTANTD_SANDBOX_DIR", "../sessions")
    monkeypatch.setenv("ASSISTANTD_DATABASE_URL", "sqlite+aiosqlite:///db/x.sqlite")
    settings = Settings(_env_file=None)
    assert settings.data_dir == tmp_path.resolve() / "state" / "d"
    assert settings.sandbox_files_dir == tmp_path.resolve().parent / "sessions"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/db/x.sqlite"


def test_home_and_other_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    settings = Settings(_env_file=None, data_dir=Path("~/assistantd"))
    assert settings.data_dir == Path("/home/someone/assistantd")
    for url in ("postgresql+asyncpg://u:p@db/x", "sqlite+aiosqlite://", "sqlite+aiosqlite:////a/b"):
        assert Settings(_env_file=None, database_url=url).database_url == url
