"""Past capacity and past a crash, on a real server and a real PostgreSQL.

- Every pooled connection held (requests stuck behind a table lock another session holds):
  the next request waits the pool's timeout, then gets 503 with `Retry-After` in OpenAI's
  envelope, having changed nothing; once the lock goes, the held requests finish and the
  server serves again; the background sweeps waited instead of failing.
- A run whose task died without writing its end (its status writes failed, here by a trigger
  that refuses the first two): the leased scheduler takes it over and fails it, so its thread
  is free again.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from assistantd.executor.leased import TAKEOVER_MESSAGE
from tests.conftest import KEY_A, make_settings, sdk
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.server import fresh_postgres_database, run_server

HEADERS = {"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2"}
POOL = 3


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: ASSISTANTD_TEST_DATABASE_URL unset")
        pytest.skip("needs ASSISTANTD_TEST_DATABASE_URL (scripts/test sets it)")
    with fresh_postgres_database(base) as url:
        yield url


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _waiting_on_locks(conn: asyncpg.Connection) -> int:
    """Sessions of this database waiting for a lock (`conn` outside a transaction: the
    statistics views keep one snapshot per transaction)."""
    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'"
    )
    return int(await conn.fetchval(sql))


def test_past_pool_capacity_a_request_gets_503_with_retry_after(
    tmp_path: Path, pg_url: str, fake: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        tmp_path,
        pg_url,
        upstream_base_url=fake.base_url,
        database_pool_size=POOL,
        database_pool_timeout_s=1,
    )
    with (
        run_server(settings) as server,
        httpx.Client(base_url=server.api, headers=HEADERS, timeout=60) as http,
    ):
        assert http.post("/assistants", json={"model": "gpt-4o"}).status_code == 200

        async def scenario() -> None:
            locker = await asyncpg.connect(_plain(pg_url))
            watcher = await asyncpg.connect(_plain(pg_url))
            try:
                transaction = locker.transaction()
                await transaction.start()
                await locker.execute("LOCK TABLE assistants IN ACCESS EXCLUSIVE MODE")
                with ThreadPoolExecutor(POOL) as pool:
                    held = [pool.submit(http.get, "/assistants") for _ in range(POOL)]
                    deadline = time.monotonic() + 30
                    while await _waiting_on_locks(watcher) < POOL:  # every connection is held
                        assert time.monotonic() < deadline
                        await asyncio.sleep(0.05)
                    refused = await asyncio.to_thread(
                        http.post, "/assistants", json={"model": "gpt-4o", "name": "refused"}
                    )
                    assert refused.status_code == 503, refused.text
                    assert refused.headers["retry-after"] == "1"
                    error = refused.json()["error"]
                    assert set(error) == {"message", "type", "param", "code"}
                    assert error["type"] == "server_error"
                    await asyncio.sleep(3)  # the sweeps (each second) meet the full pool too
                    await transaction.rollback()  # the lock goes
                    for future in held:
                        assert (await asyncio.wrap_future(future)).status_code == 200
            finally:
                await locker.close()
                await watcher.close()

        asyncio.run(scenario())
        listed = http.get("/assistants").json()["data"]
        assert [a["name"] for a in listed] == [None]  # the refused request changed nothing
        assert http.post("/assistants", json={"model": "gpt-4o"}).status_code == 200
    # background work (the sweeps) waited its turn instead of being refused
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text[-2000:]


REFUSE_TWO_ENDINGS = """
CREATE SEQUENCE refused;  -- counts outside the transactions the trigger rolls back
CREATE FUNCTION refuse_two_endings() RETURNS trigger AS $$
BEGIN
    IF NEW.status IN ('completed', 'failed') AND nextval('refused') <= 2 THEN
        RAISE EXCEPTION 'refused by the test';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER refuse_two_endings BEFORE UPDATE ON runs
    FOR EACH ROW EXECUTE FUNCTION refuse_two_endings();
"""


def test_a_run_whose_task_died_is_failed_by_the_sweep(
    tmp_path: Path, pg_url: str, fake: FakeUpstream
) -> None:
    settings = make_settings(tmp_path, pg_url, upstream_base_url=fake.base_url)
    with run_server(settings) as server, sdk(server) as client:  # migrated: the tables exist

        async def install() -> None:
            conn = await asyncpg.connect(_plain(pg_url))
            try:
                await conn.execute(REFUSE_TWO_ENDINGS)
            finally:
                await conn.close()

        asyncio.run(install())
        fake.script(Turn(text="hello there"))
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "x"}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        # completed refused, then failed refused: the task ends with the run in_progress
        deadline = time.monotonic() + 60
        while (run := client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)).status in (
            "queued",
            "in_progress",
        ):
            assert time.monotonic() < deadline, run
            time.sleep(0.2)
        assert run.status == "failed", run
        assert run.last_error is not None
        # On PostgreSQL runs are leased: the run, held by no live task, is taken over and failed.
        assert (run.last_error.code, run.last_error.message) == ("server_error", TAKEOVER_MESSAGE)
        # the answer was whole before the run's end was refused: it stays as it was
        [step] = list(client.beta.threads.runs.steps.list(run.id, thread_id=thread.id))
        assert step.status == "completed"
        [message] = list(client.beta.threads.messages.list(thread.id, run_id=run.id))
        assert message.status == "completed"
        assert message.content[0].text.value == "hello there"  # type: ignore[union-attr]
        added = client.beta.threads.messages.create(thread.id, role="user", content="free?")
        assert added.role == "user"  # the thread is free again
