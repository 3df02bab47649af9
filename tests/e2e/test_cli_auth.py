"""The command line and the auth modes: local mode, keys made with `assistantd keys create`,
and refusing to expose an unauthenticated server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import openai

from tests.conftest import make_settings
from tests.support.server import free_port, run_server


def _cli(*args: str, data_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSISTANTD_DATA_DIR": str(data_dir)}
    env.pop("ASSISTANTD_API_KEYS", None)
    env.pop("ASSISTANTD_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "assistantd", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_local_mode_accepts_any_or_no_key(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", api_keys="")
    with run_server(settings) as server:
        assert httpx.get(f"{server.api}/assistants").status_code == 200
        with openai.OpenAI(base_url=server.api, api_key="anything") as client:
            created = client.beta.assistants.create(model="gpt-4o")
        listed = httpx.get(
            f"{server.api}/assistants", headers={"Authorization": "Bearer other"}
        ).json()
        assert [a["id"] for a in listed["data"]] == [created.id]  # one project, "default"


def test_keys_create_switches_local_mode_off(tmp_path: Path) -> None:
    made = _cli("keys", "create", "--project", "acme", data_dir=tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("sk-")
    settings = make_settings(
        tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'assistantd.db'}", api_keys=""
    )
    with run_server(settings) as server:
        ok = httpx.get(f"{server.api}/assistants", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
        denied = httpx.get(f"{server.api}/assistants", headers={"Authorization": "Bearer nope"})
        assert denied.status_code == 401
    stored = (tmp_path / "assistantd.db").read_bytes()
    assert key.encode() not in stored  # only the hash is kept


def test_serve_refuses_public_host_without_keys(tmp_path: Path) -> None:
    result = _cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), data_dir=tmp_path)
    assert result.returncode == 2
    assert "--insecure-no-auth" in result.stderr


def test_migrate_command(tmp_path: Path) -> None:
    result = _cli("migrate", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "assistantd.db").exists()
    again = _cli("migrate", data_dir=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout
