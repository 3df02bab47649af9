"""The `Sandbox` protocol the run executor uses, and `DockerSandbox`, its Docker implementation.

DockerSandbox puts the parts together and owns their lifespan: the engine connection
(`engine.py`: the docker client, its thread pool, finding the image or building it, sweeps of
labelled leftovers on start and stop, one container's creation and removal), the warm pool of
pre-started containers (`pool.py`), the sessions, one container per session key (the thread
id), never reused across sessions (`sessions.py`, with the /mnt/data quota in `quota.py`), and
the idle/max-life reaper (`reaper.py`). It fails closed: without an engine or image, `execute`
raises `SandboxUnavailable`; code never runs on the host. Per-session files live in host
folders (`session_files.py`) that outlive containers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any, Protocol

from assistantd.settings import Settings

from .container import Container
from .engine import Engine, bounded
from .events import SandboxEvent, SandboxUnavailable
from .pool import WarmPool
from .reaper import reap_loop
from .session_files import SessionFiles
from .sessions import Sessions


class Sandbox(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def status(self) -> dict[str, Any]: ...
    def execute(
        self, session_key: str, code: str, *, timeout_s: float | None = None
    ) -> AsyncGenerator[SandboxEvent, None]: ...
    async def interrupt(self, session_key: str) -> None: ...
    async def put_file(self, session_key: str, name: str, data: bytes) -> None: ...
    async def read_file(self, session_key: str, relative_path: str) -> bytes: ...
    async def remove_file(self, session_key: str, relative_path: str) -> None: ...
    async def close_session(self, session_key: str, *, delete_files: bool = False) -> None: ...


class DockerSandbox:
    """Sessions in hardened Docker containers. Create, `await start()`, use, `await stop()`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.files = SessionFiles(
            settings.sandbox_files_dir, settings.sandbox.uid, settings.sandbox.gid
        )
        self._engine = Engine(settings, self.files)
        self._warm = WarmPool(settings, self._engine, self.files)
        self._live = Sessions(settings, self._engine, self.files, self._warm, self._available)
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    @property
    def run_id(self) -> str:
        """Labels every container of this instance (swept when it stops)."""
        return self._engine.run_id

    @property
    def _sessions(self) -> dict[str, Container]:
        return self._live.containers

    @property
    def _pool(self) -> list[Container]:
        return self._warm.containers

    # -- lifespan ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, sweep orphans, start the reaper and the pool. Never raises for a missing
        engine or image: `status()` then says why and `execute` raises SandboxUnavailable."""
        self._running = True
        await self._engine.ensure()
        loop = asyncio.get_running_loop()
        interval = self._settings.sandbox.reap_interval_s
        self._tasks = [
            loop.create_task(reap_loop(interval, self._live.reap), name="sandbox-reaper"),
            loop.create_task(self._warm.run(), name="sandbox-pool"),
        ]

    async def stop(self) -> None:
        """Remove every container of this run (sessions and pool); folders stay. Idempotent."""
        if self._engine.stopped:
            return
        self._running = False
        await self._engine.cancel_background(self._tasks)
        self._tasks = []
        containers = [*self._live.take_all(), *self._warm.take_all()]
        await bounded(
            asyncio.gather(*(c.close() for c in containers), return_exceptions=True), "sockets"
        )
        await self._engine.sweep_and_disconnect()

    def counts(self) -> tuple[int, int]:
        """(live sessions, warm pool) for the metrics."""
        return len(self._live.containers), len(self._warm.containers)

    async def status(self) -> dict[str, Any]:
        """For /readyz: `{"available": True, ...}` or `{"available": False, "reason": ...}`."""
        engine = self._engine
        if not self._running:
            return {"available": False, "reason": "sandbox is not started"}
        if not await engine.ensure():
            build = {"build": engine.build.as_dict()} if engine.build is not None else {}
            return {"available": False, "reason": engine.reason, **build}
        unreachable = await engine.ping()
        if unreachable is not None:
            return {"available": False, "reason": unreachable}
        return {
            "available": True,
            "image": self._settings.sandbox.image,
            "sessions": len(self._live.containers),
            "pool": len(self._warm.containers),
        }

    async def _available(self) -> None:
        """Raise SandboxUnavailable unless code can run now (waits a while for a build)."""
        engine = self._engine
        if not self._running:
            raise SandboxUnavailable("stopped" if engine.stopped else "sandbox is not started")
        if await engine.ensure():
            return
        build = engine.build
        if build is not None and build.state == "building":  # wait for it (bounded)
            await build.wait(self._settings.sandbox.build_wait_s)
            if await engine.ensure():
                return
        raise SandboxUnavailable(engine.reason or "docker engine unavailable")

    # -- sessions ---------------------------------------------------------------------------

    def execute(
        self, session_key: str, code: str, *, timeout_s: float | None = None
    ) -> AsyncGenerator[SandboxEvent, None]:
        """Run `code` in the session's kernel; yield logs and images as they come, then Done.

        Close the generator early (`aclose()`, or cancel the consumer) to abandon the call: the
        kernel is interrupted in the background and the next call waits for it.
        """
        return self._live.execute(session_key, code, timeout_s=timeout_s)

    async def interrupt(self, session_key: str) -> None:
        await self._live.interrupt(session_key)

    async def put_file(self, session_key: str, name: str, data: bytes) -> None:
        await self._live.put_file(session_key, name, data)

    async def read_file(self, session_key: str, relative_path: str) -> bytes:
        max_bytes = self._settings.sandbox.max_read_bytes
        return await self._engine.call(self.files.read, session_key, relative_path, max_bytes)

    async def remove_file(self, session_key: str, relative_path: str) -> None:
        await self._engine.call(self.files.remove, session_key, relative_path)

    async def close_session(self, session_key: str, *, delete_files: bool = False) -> None:
        """Remove the session's container; its files stay unless `delete_files`."""
        await self._live.close(session_key, delete_files=delete_files)

    async def reap(self) -> int:
        """Remove idle, too old and dead session containers now; return how many."""
        return await self._live.reap()
