"""docker-compose.nodes.yml: valid for Docker Compose, consistent with its proxy's config, and its
processes run for real here.

No image registry is reachable, so its images can't be pulled; instead the commands the
compose file gives its services run on this machine, with the environment Compose resolves for
them. The service host names point at this machine's real PostgreSQL, Redis and S3 server
(moto): `migrate` once, then two `assistantd` replicas, each its own process with its own
hostname, on the same database, Redis and bucket. A file uploaded through one replica is
downloadable through the other and both list it. (The proxy, nginx, is not installed here: its
config is checked against the compose file instead.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import API_KEYS, KEY_A
from tests.fakes.upstream import FakeUpstream
from tests.support.compose import ROOT, compose_config
from tests.support.process import spawn_server
from tests.support.redis import drop_prefix, fresh_prefix, shared_redis_url
from tests.support.server import fresh_postgres_database

FILE = "docker-compose.nodes.yml"


def _config() -> dict[str, Any]:
    return compose_config(file=FILE, profiles=("s3",), ASSISTANTD_BLOB_STORE="s3")


def test_the_nodes_compose_file_is_valid_and_its_proxy_matches_it() -> None:
    plain = compose_config(file=FILE)  # without the profile: no MinIO, files on a volume
    assert plain["services"]["minio"]["profiles"] == ["s3"]
    assert plain["services"]["assistantd"]["environment"]["ASSISTANTD_BLOB_STORE"] == "local"
    services = _config()["services"]
    assert set(services) == {
        "sandbox-image", "migrate", "assistantd", "proxy", "postgres", "redis", "minio"
    }  # fmt: skip
    replica = services["assistantd"]
    assert replica["deploy"]["replicas"] == 2
    assert "ports" not in replica  # only the proxy publishes a port
    (published,) = services["proxy"]["ports"]
    # "127.0.0.1:8000:8000/tcp" (docker-compose 1.x) or {"target": 8000, ...} (Compose v2)
    target = published["target"] if isinstance(published, dict) else published.split(":")[-1]
    assert str(target).removesuffix("/tcp") == "8000"
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    env = replica["environment"]
    assert make_url(env["ASSISTANTD_DATABASE_URL"]).host == "postgres"
    assert env["ASSISTANTD_REDIS_URL"].startswith("redis://redis:")
    assert env["ASSISTANTD_S3_ENDPOINT_URL"].startswith("http://minio:")
    assert env["ASSISTANTD_BLOB_STORE"] == "s3"
    assert services["migrate"]["environment"] == env
    nginx = (ROOT / "deploy/nginx/assistantd.conf").read_text()
    assert re.search(r"listen 8000;", nginx)
    assert re.search(r"set \$replicas assistantd:8000;", nginx)  # the service, by name
    assert "proxy_buffering off;" in nginx  # streams are not held back


def _shell(command: list[str]) -> str:
    """The replica's `sh -c` script as the container runs it (Compose's `$$` is a `$`)."""
    assert command[:2] == ["sh", "-c"], command
    return command[2].replace("$$", "$")


def test_the_compose_processes_run_as_two_nodes(
    s3_url: str, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    base = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: ASSISTANTD_TEST_DATABASE_URL unset")
        pytest.skip("needs PostgreSQL: ASSISTANTD_TEST_DATABASE_URL (scripts/test sets it)")
    redis_url, prefix = shared_redis_url(), fresh_prefix()
    services = _config()["services"]
    with fresh_postgres_database(base) as database:
        env = dict(services["assistantd"]["environment"])
        env.update(
            {  # the compose host names, pointed at this machine's services
                "ASSISTANTD_DATABASE_URL": database,
                "ASSISTANTD_REDIS_URL": redis_url,
                "ASSISTANTD_REDIS_PREFIX": prefix,
                "ASSISTANTD_S3_ENDPOINT_URL": s3_url,
                "ASSISTANTD_S3_BUCKET": f"compose-{uuid.uuid4().hex[:12]}",
                # this test's keys and model; no sandboxes (the Docker suite runs those)
                "ASSISTANTD_API_KEYS": API_KEYS,
                "ASSISTANTD_UPSTREAM_BASE_URL": fake_upstream.base_url,
                "ASSISTANTD_SANDBOX_ENABLED": "false",
                "ASSISTANTD_SANDBOX_HOST_DIR": str(tmp_path / "sandbox"),
            }
        )
        path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
        migrate = subprocess.run(
            services["migrate"]["command"],
            env={**os.environ, **env, "PATH": path, "ASSISTANTD_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr
        script = _shell(services["assistantd"]["command"])
        assert "--host 0.0.0.0 --port 8000" in script

        def replica(name: str) -> Any:
            # Each container has its own hostname and network: here, a `hostname` that answers
            # the replica's name, and a port of its own on loopback.
            bin_dir = tmp_path / f"bin-{name}"
            bin_dir.mkdir()
            (bin_dir / "hostname").write_text(f"#!/bin/sh\necho {name}\n")
            (bin_dir / "hostname").chmod(0o755)
            replica_env = {
                **env,
                "PATH": f"{bin_dir}:{path}",
                "ASSISTANTD_DATA_DIR": str(tmp_path / name),
            }

            def command(port: int) -> list[str]:
                here = script.replace(
                    "--host 0.0.0.0 --port 8000", f"--host 127.0.0.1 --port {port}"
                )
                return ["sh", "-c", here]

            return spawn_server(replica_env, command=command, quiet=True, start_s=90)

        try:
            with replica("replica-1") as (one, _), replica("replica-2") as (two, _):
                auth = {"Authorization": f"Bearer {KEY_A}"}
                with httpx.Client(headers=auth, timeout=30) as http:
                    made = http.post(
                        f"{one}/v1/files",
                        files={"file": ("notes.txt", b"both replicas see this")},
                        data={"purpose": "assistants"},
                    )
                    assert made.status_code == 200, made.text
                    file_id = made.json()["id"]
                    content = http.get(f"{two}/v1/files/{file_id}/content")
                    assert content.content == b"both replicas see this"
                    for node in (one, two):
                        listed = http.get(f"{node}/v1/files").json()["data"]
                        assert [item["id"] for item in listed] == [file_id]
        finally:
            drop_prefix(redis_url, prefix)
