"""Two server processes (two nodes, each with its own data directory) on one PostgreSQL database
and one S3 bucket: a file uploaded on node A is downloadable on node B, node B ingests it for
file search (reading the bytes A stored), and a delete on B is seen on A."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEYS, KEY_A
from tests.fakes.upstream import FakeUpstream
from tests.support.process import settings_env, spawn_server
from tests.support.s3 import s3_overrides
from tests.support.server import fresh_postgres_database


def _client(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{url}/v1", headers={"Authorization": f"Bearer {KEY_A}"}, timeout=60
    )


def _node(env: dict[str, str], data_dir: Path) -> dict[str, str]:
    """A node's environment: the shared settings, its own data directory."""
    return {**env, "ASSISTANTD_DATA_DIR": str(data_dir)}


def _postgres() -> str:
    base = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
    if not base and os.environ.get("CI"):
        pytest.fail("CI must run the PostgreSQL tests: ASSISTANTD_TEST_DATABASE_URL is not set")
    if not base:
        pytest.skip("needs PostgreSQL: ASSISTANTD_TEST_DATABASE_URL (scripts/test sets it)")
    return base


def test_a_file_uploaded_on_one_node_is_downloadable_and_searchable_on_another(
    s3_url: str, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    with fresh_postgres_database(_postgres()) as database:
        env = settings_env(
            {
                "database_url": database,
                "api_keys": API_KEYS,
                "upstream_base_url": fake_upstream.base_url,
                "sandbox_enabled": "false",
                **s3_overrides(s3_url),
            }
        )
        # B starts after A has migrated the database: two first starts don't race the schema.
        with (
            spawn_server(_node(env, tmp_path / "node-a"), quiet=True, start_s=90) as (node_a, _),
            spawn_server(_node(env, tmp_path / "node-b"), quiet=True, start_s=90) as (node_b, _),
            _client(node_a) as a,
            _client(node_b) as b,
        ):
            text = b"The lighthouse keeper logs the tide at dawn.\n" * 50
            uploaded = a.post(
                "/files", files={"file": ("log.txt", text)}, data={"purpose": "assistants"}
            )
            assert uploaded.status_code == 200, uploaded.text
            file_id = uploaded.json()["id"]

            assert b.get(f"/files/{file_id}/content").content == text
            listed = b.get("/files").json()["data"]
            assert [item["id"] for item in listed] == [file_id]

            store = b.post("/vector_stores", json={"name": "logs", "file_ids": [file_id]})
            assert store.status_code == 200, store.text
            store_id = store.json()["id"]
            deadline = time.monotonic() + 90
            while b.get(f"/vector_stores/{store_id}").json()["file_counts"]["in_progress"]:
                assert time.monotonic() < deadline, "the file was not ingested"
                time.sleep(0.2)
            counts = b.get(f"/vector_stores/{store_id}").json()["file_counts"]
            assert counts["completed"] == 1, counts
            for node in (a, b):
                hits = node.post(f"/vector_stores/{store_id}/search", json={"query": "lighthouse"})
                assert hits.status_code == 200, hits.text
                assert [hit["file_id"] for hit in hits.json()["data"]] == [file_id]

            assert b.delete(f"/files/{file_id}").json()["deleted"] is True
            gone = a.get(f"/files/{file_id}/content")
            assert gone.status_code == 404
            assert gone.json()["error"]["type"] == "invalid_request_error"
