"""Side effects follow the commit: a service declares them on its write transaction and they
happen only once it has committed (assistantd.effects).

* Files attached by a service (a thread's `tool_resources` helper, a message attachment) are
  ingested at once: there is no periodic sweep any more, only the boot-time recovery, which still
  finds the files a stopped server left `in_progress`.
* A thread whose delete fails to commit keeps its code-interpreter files. The commit is made to
  fail for real: a row of another table points at the thread through a deferred foreign key,
  which both SQLite and PostgreSQL check at COMMIT.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import BACKENDS, KEY_A, _database_url, make_settings
from tests.support.server import run_server


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        yield _database_url(request.param, stack, tmp_path)


def _client(api: str) -> httpx.Client:
    return httpx.Client(base_url=api, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=30)


def _sql(url: str, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """Run statements on the server's database from outside it (its own connection)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        with sqlite3.connect(str(parsed.database)) as db:
            for sql, args in statements:
                db.execute(sql, args)
        return
    import asyncpg

    async def run() -> None:
        dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        try:
            for sql, args in statements:
                marks = sql
                for index in range(len(args)):
                    marks = marks.replace("?", f"${index + 1}", 1)
                await conn.execute(marks, *args)
        finally:
            await conn.close()

    asyncio.run(run())


def _upload(http: httpx.Client, text: bytes, name: str = "notes.txt") -> str:
    response = http.post("/files", files={"file": (name, text)}, data={"purpose": "assistants"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _wait_completed(http: httpx.Client, store_id: str, file_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = http.get(f"/vector_stores/{store_id}/files/{file_id}")
        assert found.status_code == 200, found.text
        status = found.json()["status"]
        if status != "in_progress":
            assert status == "completed", found.text
            return
        time.sleep(0.05)
    raise AssertionError(f"{file_id} is still in_progress in {store_id}")


def _thread_store(http: httpx.Client, thread_id: str) -> str:
    thread = http.get(f"/threads/{thread_id}").json()
    [store_id] = thread["tool_resources"]["file_search"]["vector_store_ids"]
    return str(store_id)


def test_files_attached_by_services_are_ingested(tmp_path: Path, database: str) -> None:
    with run_server(make_settings(tmp_path, database)) as server, _client(server.api) as http:
        helper_file = _upload(http, b"The lighthouse keeper logs every passing ship.")
        made = http.post(
            "/threads",
            json={
                "tool_resources": {"file_search": {"vector_stores": [{"file_ids": [helper_file]}]}}
            },
        )
        assert made.status_code == 200, made.text
        _wait_completed(http, _thread_store(http, made.json()["id"]), helper_file)

        attached_file = _upload(http, b"Tide tables for the northern harbour.")
        thread = http.post("/threads", json={}).json()["id"]
        message = http.post(
            f"/threads/{thread}/messages",
            json={
                "role": "user",
                "content": "see the file",
                "attachments": [{"file_id": attached_file, "tools": [{"type": "file_search"}]}],
            },
        )
        assert message.status_code == 200, message.text
        _wait_completed(http, _thread_store(http, thread), attached_file)


def test_boot_recovery_finds_files_left_in_progress(tmp_path: Path, database: str) -> None:
    settings = make_settings(tmp_path, database)
    with run_server(settings) as server, _client(server.api) as http:
        file_id = _upload(http, b"The orchard grows quinces and medlars.")
        store_id = http.post("/vector_stores", json={"name": "orchard"}).json()["id"]
    # What a server stopped mid-ingestion leaves: the file attached, still in progress.
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
    }
    _sql(
        database,
        (
            "INSERT INTO vector_store_files (vector_store_id, id, project, status, batch_id, "
            "usage_bytes, body) VALUES (?, ?, ?, ?, NULL, 0, ?)",
            (store_id, file_id, "alpha", "in_progress", json.dumps(body)),
        ),
    )
    with run_server(settings) as server, _client(server.api) as http:
        _wait_completed(http, store_id, file_id)
        found = http.post(f"/vector_stores/{store_id}/search", json={"query": "quinces"})
        assert found.status_code == 200, found.text
        assert found.json()["data"][0]["file_id"] == file_id


def test_thread_files_stay_when_the_delete_does_not_commit(tmp_path: Path, database: str) -> None:
    # A sandbox with no engine behind it: sessions cannot start, but it owns the files dir.
    settings = make_settings(
        tmp_path,
        database,
        sandbox_enabled=True,
        sandbox_docker_url=f"unix://{tmp_path / 'no-engine.sock'}",
    )
    with run_server(settings) as server, _client(server.api) as http:
        thread = http.post("/threads", json={}).json()["id"]
        files = settings.sandbox_files_dir / thread
        files.mkdir(parents=True)
        (files / "result.csv").write_text("a,b\n1,2\n")
        _sql(
            database,
            (
                "CREATE TABLE pin (thread_id VARCHAR(64) REFERENCES threads (id) "
                "DEFERRABLE INITIALLY DEFERRED)",
                (),
            ),
            ("INSERT INTO pin (thread_id) VALUES (?)", (thread,)),
        )

        refused = http.delete(f"/threads/{thread}")
        assert refused.status_code >= 500, refused.text  # the commit failed
        assert http.get(f"/threads/{thread}").status_code == 200
        assert (files / "result.csv").read_text() == "a,b\n1,2\n"

        _sql(database, ("DELETE FROM pin", ()))
        deleted = http.delete(f"/threads/{thread}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["deleted"] is True
        assert not files.exists()
