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
    assert settings.database.url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/db/x.sqlite"


def test_home_and_other_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    settings = Settings(_env_file=None, data_dir=Path("~/assistantd"))
    assert settings.data_dir == Path("/home/someone/assistantd")
    for url in ("postgresql+asyncpg://u:p@db/x", "sqlite+aiosqlite://", "sqlite+aiosqlite:////a/b"):
        assert Settings(_env_file=None, database_url=url).database.url == url


def test_groups_keep_the_flat_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ASSISTANTD_<GROUP>_<FIELD>` is `settings.<group>.<field>`, for every group; other
    ASSISTANTD_ variables (the compose file's ASSISTANTD_SANDBOX_HOST_DIR) are ignored."""
    values = {
        "ASSISTANTD_DATABASE_POOL_SIZE": "7",
        "ASSISTANTD_UPSTREAM_BASE_URL": "http://model:8000/v1",
        "ASSISTANTD_UPSTREAM_MAX_RETRIES": "0",
        "ASSISTANTD_S3_CREATE_BUCKET": "true",
        "ASSISTANTD_EMBEDDING_MODEL": "text-embedding-3-small",
        "ASSISTANTD_REDIS_URL": "redis://r:6379/0",
        "ASSISTANTD_EVENTS_MAXLEN": "99",
        "ASSISTANTD_LEASE_HEARTBEAT_S": "0.5",
        "ASSISTANTD_SANDBOX_POOL_SIZE": "0",
        "ASSISTANTD_SANDBOX_HOST_DIR": "/var/lib/elsewhere",
        "ASSISTANTD_WORKERS": "3",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.database.pool_size == 7
    assert settings.upstream.base_url == "http://model:8000/v1"
    assert settings.upstream.max_retries == 0
    assert settings.s3.create_bucket is True
    assert settings.embedding.model == "text-embedding-3-small"
    assert settings.redis.url == "redis://r:6379/0"
    assert settings.events.maxlen == 99
    assert settings.lease.heartbeat_s == 0.5
    assert settings.sandbox.pool_size == 0
    assert settings.workers == 3
    # Keyword arguments take the same flat names, over the environment, one field at a time.
    given = Settings(_env_file=None, upstream_max_retries=2, lease={"ttl_s": 4})
    assert (given.upstream.max_retries, given.upstream.base_url) == (2, "http://model:8000/v1")
    assert (given.lease.ttl_s, given.lease.heartbeat_s) == (4, 0.5)


def test_a_bad_grouped_value_names_its_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANTD_LEASE_TTL_S", "0")
    with pytest.raises(ValueError, match=r"lease\.ttl_s"):
        Settings(_env_file=None)
