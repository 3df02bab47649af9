"""A real uvicorn server running create_app(settings) on a free loopback port, in a thread."""

from __future__ import annotations

import asyncio
import socket
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
from assistantd.settings import Settings


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
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    httpx.get(f"{url}/healthz").raise_for_status()
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
