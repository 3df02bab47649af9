"""What the start of a run costs the database before its model call (the fixed work that
bounds how many runs a process starts at once): on PostgreSQL the run's lease is taken in the
transaction that creates the run, and the executor reads the run, and the thread's context, in
the transaction that marks it `in_progress`. The statements are recorded on the server's engine,
grouped by transaction; only the transactions that name the run or its thread count (not the
heartbeat's or sweeps')."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import event

from tests.conftest import KEY_A, _database_url, make_settings
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.server import RunningServer, run_server


@pytest.fixture
def node(tmp_path: Path, fake: FakeUpstream) -> Iterator[Any]:
    """PostgreSQL (SQLite takes no lease and reads the context in a transaction of its own)."""
    with ExitStack() as stack:
        url = _database_url("postgres", stack, tmp_path)
        settings = make_settings(
            tmp_path,
            url,
            upstream_base_url=fake.base_url,
            lease_heartbeat_s=30,  # no beat (beyond the first) while the run starts
            lease_ttl_s=60,
        )
        yield stack.enter_context(run_server(settings))


class Transactions:
    """Each committed transaction's statements (with their parameters), in commit order."""

    def __init__(self, server: RunningServer) -> None:
        app: Any = server.server.config.app
        self.engine = app.state.services.db.engine.sync_engine
        self.open: dict[int, list[str]] = {}
        self.committed: list[list[str]] = []
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)

    def _statement(self, conn: Any, _c: Any, statement: str, params: Any, *_: Any) -> None:
        self.open.setdefault(id(conn), []).append(f"{' '.join(statement.split())} {params!r}")

    def _commit(self, conn: Any) -> None:
        self.committed.append(self.open.pop(id(conn), []))

    def naming(self, *names: str) -> list[list[str]]:
        return [t for t in self.committed if any(n in s for s in t for n in names)]

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)


def test_a_run_starts_in_two_write_transactions(node: RunningServer, fake: FakeUpstream) -> None:
    fake.script(Turn(text="never sent", stall_after=0))  # the model call starts, then stalls
    client = openai.OpenAI(base_url=node.api, api_key=KEY_A, max_retries=0)
    with client:
        assistant = client.beta.assistants.create(model="gpt-4o")
        recorded = Transactions(node)
        try:
            run = client.beta.threads.create_and_run(
                assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "hi"}]}
            )
            deadline = time.monotonic() + 20
            while not fake.stalled:  # the model call is under way
                assert time.monotonic() < deadline, "the model was not called"
                time.sleep(0.01)
            before_call = recorded.naming(run.id, run.thread_id)
        finally:
            recorded.close()
        client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)

    writes = [t for t in before_call if any(s.startswith(("INSERT", "UPDATE")) for s in t)]
    assert len(writes) == 2, writes  # the create, and the start
    create, start = writes
    assert any(s.startswith("INSERT INTO runs ") for s in create)
    assert any(s.startswith("INSERT INTO run_leases ") for s in create), create  # one commit
    assert not any("run_leases" in s for t in before_call if t is not create for s in t[1:])
    # the run is read in the transaction that marks it in_progress, fenced first
    assert "FOR KEY SHARE" in start[0], start
    assert any(s.startswith("SELECT project, body FROM runs ") for s in start), start
    assert any(s.startswith("UPDATE runs ") and "in_progress" in s for s in start), start
    # and the thread's context (its messages and steps) is read in it too
    assert any(s.startswith("SELECT ord, body FROM messages ") for s in start), start
    assert any(s.startswith("SELECT ord, body FROM run_steps ") for s in start), start
    reads = [t for t in before_call if t not in writes]
    assert not reads, reads  # no other transaction before the model call
