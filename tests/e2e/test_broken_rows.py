"""A row already broken in the database (written by an older version, or by hand) stops neither
the start-up, nor the ingestion sweep, nor another project, nor the rest of its own store."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx

from tests.conftest import KEY_A, KEY_B, make_settings
from tests.support.server import run_server


def _client(api: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _upload(http: httpx.Client, text: bytes) -> str:
    response = http.post("/files", files={"file": ("a.txt", text)}, data={"purpose": "assistants"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _wait_completed(http: httpx.Client, store_id: str, file_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = http.get(f"/vector_stores/{store_id}/files/{file_id}")
        assert found.status_code == 200, found.text
        if found.json()["status"] != "in_progress":
            return found.json()  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"{file_id} is still in_progress")


def test_broken_rows_break_nothing(tmp_path: Path) -> None:
    db_path = tmp_path / "test.db"
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{db_path}")
    with (
        run_server(settings) as server,
        _client(server.api, KEY_A) as alpha,
        _client(server.api, KEY_B) as beta,
    ):
        store_a = alpha.post("/vector_stores", json={"name": "a"}).json()["id"]
        good_a = _upload(alpha, b"the apples are red")
        attached = alpha.post(f"/vector_stores/{store_a}/files", json={"file_id": good_a})
        assert attached.status_code == 200, attached.text
        _wait_completed(alpha, store_a, good_a)
        nulled_a, garbage_a = _upload(alpha, b"pears"), _upload(alpha, b"plums")
        store_b = beta.post("/vector_stores", json={"name": "b"}).json()["id"]
        pending_b = _upload(beta, b"the bananas are yellow")

    # What an older version stored for `"attributes": {"n": 1e999}`, a body that no longer
    # reads at all (left in_progress, so the sweep and the start-up meet it), and a healthy
    # file of another project that a restart left in_progress.
    def vs_file(file_id: str, store_id: str, **extra: object) -> str:
        body = {
            "id": file_id,
            "object": "vector_store.file",
            "usage_bytes": 0,
            "created_at": int(time.time()),
            "vector_store_id": store_id,
            "status": "in_progress",
            "last_error": None,
            "chunking_strategy": None,
            "attributes": None,
            **extra,
        }
        return json.dumps(body)

    rows = [
        (
            store_a,
            nulled_a,
            "alpha",
            "completed",
            vs_file(nulled_a, store_a, status="completed", attributes={"n": None, "k": "v"}),
        ),
        (store_a, garbage_a, "alpha", "in_progress", '{"id": "' + garbage_a + '", "status": 5'),
        (store_b, pending_b, "beta", "in_progress", vs_file(pending_b, store_b)),
    ]
    with sqlite3.connect(db_path) as db:
        db.executemany(
            "INSERT INTO vector_store_files (vector_store_id, id, project, status, batch_id, "
            "usage_bytes, body) VALUES (?, ?, ?, ?, NULL, 0, ?)",
            rows,
        )
        db.execute(
            "INSERT INTO vector_store_index_files (store_id, file_id, attributes, chunk_count) "
            "VALUES (?, ?, ?, 0)",
            (store_a, nulled_a, '{"n": null, "k": "v"}'),
        )

    # The server starts on that data directory and everything still answers.
    with (
        run_server(settings) as server,
        _client(server.api, KEY_A) as alpha,
        _client(server.api, KEY_B) as beta,
    ):
        # The other project's file is picked up by the sweep and completes.
        assert _wait_completed(beta, store_b, pending_b)["status"] == "completed"
        search_b = beta.post(f"/vector_stores/{store_b}/search", json={"query": "bananas"})
        assert search_b.status_code == 200, search_b.text
        assert search_b.json()["data"][0]["file_id"] == pending_b

        listed = alpha.get(f"/vector_stores/{store_a}/files")
        assert listed.status_code == 200, listed.text
        ids = {f["id"]: f for f in listed.json()["data"]}
        assert good_a in ids and nulled_a in ids and garbage_a not in ids
        assert ids[nulled_a]["attributes"] == {"k": "v"}  # the null is not shown
        got = alpha.get(f"/vector_stores/{store_a}/files/{nulled_a}")
        assert got.status_code == 200, got.text
        search = alpha.post(
            f"/vector_stores/{store_a}/search",
            json={"query": "apples", "filters": {"type": "gt", "key": "n", "value": 1}},
        )
        assert search.status_code == 200, search.text
        search = alpha.post(f"/vector_stores/{store_a}/search", json={"query": "apples"})
        assert search.status_code == 200, search.text
        assert search.json()["data"][0]["file_id"] == good_a
        assert alpha.get(f"/vector_stores/{store_a}").status_code == 200
