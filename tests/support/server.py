"""A real uvicorn server running create_app(settings) on a free loopback port, in a thread.

`dump_servers()` writes each live server's asyncio tasks (with their stacks) to stderr: the
suite calls it when a test hangs (tests/conftest.py), next to pytest-timeout's thread stacks.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from sqlalchemy.engine import make_url

from assistantd.app import create_app
from assistantd.observability.dumps import format_tasks
from assistantd.settings import Settings

_live: set[_Server] = set()


class _Server(uvicorn.Server):
    """uvicorn's server, known to `dump_servers` with its loop while it serves."""

    loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        _live.add(self)
        try:
            await super().serve(sockets)
        finally:
            _live.discard(self)


def dump_servers() -> None:
    """Every live test server's asyncio tasks to stderr (not captured, so a CI log shows them),
    and a thread-and-task dump asked of each server process (tests/support/process.py)."""
    out = sys.__stderr__ or sys.stderr
    for server in list(_live):
        if server.loop is not None:
            port = server.config.port
            out.write(f"\n--- asyncio tasks of the test server on port {port} ---\n")
            out.write(format_tasks(server.loop))
    out.flush()
    from tests.support import process  # it imports this module

    process.dump_all()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    settings: Settings
    server: uvicorn.Server

    @property
    def api(self) -> str:
        return f"{self.url}/v1"


@contextmanager
def run_server(settings: Settings, **app_options: Any) -> Iterator[RunningServer]:
    """`app_options` go to `create_app` (e.g. `span_exporter`)."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, **app_options),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    # (a busy CI machine can take more than httpx's default 5 s to answer the first request)
    httpx.get(f"{url}/healthz", timeout=60).raise_for_status()
    try:
        yield RunningServer(url, settings, server)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def fresh_postgres_database(base_url: str) -> Iterator[str]:
    """Create an empty database next to the one `base_url` names; drop it afterwards."""
    import asyncpg

    parsed = make_url(base_url)
    name = f"assistantd_test_{uuid.uuid4().hex[:10]}"
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
