"""Sessions: which container serves which session key (the thread id), and one code call.

`Sessions` holds one container per live session (claimed from the warm pool, else started),
serialises a session's calls with a lock, turns the supervisor's messages into `SandboxEvent`s,
interrupts and waits out a call its consumer abandoned, enforces the /mnt/data quota after each
call, and retires sessions the reaper finds due. Files stay in the session's host folder
(`session_files.py`) when its container goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from docker.errors import DockerException

from assistantd.settings import Settings

from .container import Container, ContainerGone
from .engine import Engine
from .events import (
    ChangedFile,
    Done,
    DoneStatus,
    Image,
    LogChunk,
    SandboxEvent,
    SandboxUnavailable,
)
from .pool import WarmPool
from .quota import enforce_quota
from .reaper import expired
from .session_files import SessionFiles, check_session_key

STATUSES: tuple[DoneStatus, ...] = ("ok", "error", "timeout", "oom", "killed")


class Sessions:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        files: SessionFiles,
        pool: WarmPool,
        check_available: Callable[[], Awaitable[None]],
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._files = files
        self._pool = pool
        self._check_available = check_available
        self.containers: dict[str, Container] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._ran_code: set[str] = set()  # keys whose kernel has run code (for session_reset)
        self._exec_ids = itertools.count(1)

    async def _session(self, key: str) -> Container:
        engine = self._engine
        container = self.containers.get(key)
        if container is not None and container.alive:
            return container
        if container is not None:
            del self.containers[key]
            engine.spawn(engine.discard(container))
        container = await self._pool.claim(key)
        if container is None:
            mount_dir = await engine.call(self._files.session_dir, key)
            try:
                container = await engine.launch(mount_dir, key, warm=False)
            except (DockerException, OSError, ContainerGone, TimeoutError) as exc:
                raise SandboxUnavailable(f"cannot start a sandbox container: {exc}") from exc
        self.containers[key] = container
        return container

    async def execute(
        self, session_key: str, code: str, *, timeout_s: float | None = None
    ) -> AsyncGenerator[SandboxEvent, None]:
        """Run `code` in the session's kernel; yield logs and images as they come, then Done.

        Close the generator early (`aclose()`, or cancel the consumer) to abandon the call: the
        kernel is interrupted in the background and the next call waits for it.
        """
        check_session_key(session_key)
        await self._check_available()
        timeout = timeout_s if timeout_s is not None else self._settings.sandbox.exec_timeout_s
        grace = self._settings.sandbox.kill_grace_s
        lock = self._locks.setdefault(session_key, asyncio.Lock())
        await lock.acquire()
        container: Container | None = None
        finished = False
        try:
            container = await self._session(session_key)
            container.busy = True
            exec_id = next(self._exec_ids)
            with contextlib.suppress(ContainerGone):  # died just now: the queue reports it
                await container.send(
                    {"op": "exec", "id": exec_id, "code": code, "timeout": timeout, "grace": grace}
                )
            # A supervisor always answers by timeout + grace; this watchdog is for a hung one.
            watchdog = time.monotonic() + timeout + grace + 15.0
            while not finished:
                event = await self._next_event(session_key, container, exec_id, watchdog)
                if isinstance(event, Done):
                    finished = True
                    await self._mark_ran(session_key)
                yield event
        finally:
            if container is not None:
                container.busy = False
                container.last_used = time.monotonic()
            if finished or container is None or not container.alive:
                lock.release()
            else:
                self._engine.spawn(self._abandon(container, lock, grace))

    async def _next_event(
        self, key: str, container: Container, exec_id: int, watchdog: float
    ) -> SandboxEvent:
        while True:
            remaining = watchdog - time.monotonic()
            try:
                async with asyncio.timeout(max(0.0, remaining)):
                    item = await container.queue.get()
            except TimeoutError:
                await self._engine.discard(container)
                return Done("killed")
            if item is None:
                return await self._container_died(container)
            message, payload = item
            if message.get("id") != exec_id:
                continue  # left over from an abandoned call
            ev = message.get("ev")
            if ev == "log":
                return LogChunk(str(message.get("text", "")))
            if ev == "image":
                return Image(payload)
            if ev == "done":
                return await self._done(key, message)

    async def _mark_ran(self, key: str) -> None:
        if key not in self._ran_code:
            self._ran_code.add(key)
            await self._engine.call(self._files.mark_ran, key)

    async def _has_run(self, key: str) -> bool:
        """Has an earlier kernel of this session run code (in this or an earlier process)?"""
        return key in self._ran_code or await self._engine.call(self._files.has_run, key)

    async def _done(self, key: str, message: dict[str, Any]) -> Done:
        status = message.get("status")
        files = [
            ChangedFile(str(item["path"]), int(item["size"]))
            for item in message.get("files", [])
            if isinstance(item, dict)
        ]
        reset = bool(message.get("fresh")) and await self._has_run(key)
        final: DoneStatus = next((s for s in STATUSES if s == status), "error")
        limit = self._settings.sandbox.data_bytes
        over = await self._engine.call(enforce_quota, self._files, key, files, limit)
        return Done(final, [] if over else files, reset, over)

    async def _container_died(self, container: Container) -> Done:
        """The attach stream ended mid-call: find out why, clean up, report."""
        engine = self._engine
        status: DoneStatus = "oom" if await engine.oom_killed(container) else "killed"
        engine.spawn(engine.discard(container))
        container.queue.put_nowait(None)  # later reads see the death again
        return Done(status)

    async def _abandon(self, container: Container, lock: asyncio.Lock, grace: float) -> None:
        """The consumer walked away mid-call: interrupt, wait for the end, then unlock."""
        try:
            with contextlib.suppress(ContainerGone):
                await container.send({"op": "interrupt"})
            deadline = time.monotonic() + grace + 5.0
            while True:
                remaining = deadline - time.monotonic()
                async with asyncio.timeout(max(0.0, remaining)):
                    item = await container.queue.get()
                if item is None or item[0].get("ev") == "done":
                    break
        except TimeoutError:
            await self._engine.discard(container)
        finally:
            lock.release()

    async def interrupt(self, session_key: str) -> None:
        container = self.containers.get(session_key)
        if container is not None and container.alive and container.busy:
            with contextlib.suppress(ContainerGone):
                await container.send({"op": "interrupt"})

    async def put_file(self, session_key: str, name: str, data: bytes) -> None:
        check_session_key(session_key)
        lock = self._locks.setdefault(session_key, asyncio.Lock())
        if lock.locked() and self.containers.get(session_key) is None:
            async with lock:  # a pool claim may be moving the folder
                await self._engine.call(self._files.put, session_key, name, data)
        else:
            await self._engine.call(self._files.put, session_key, name, data)

    async def close(self, session_key: str, *, delete_files: bool = False) -> None:
        """Remove the session's container; its files stay unless `delete_files`."""
        container = self.containers.pop(session_key, None)
        if container is not None:
            await self._engine.discard(container)
        lock = self._locks.get(session_key)
        if lock is not None and not lock.locked():
            del self._locks[session_key]
        if delete_files:
            await self._engine.call(self._files.delete, session_key)
            self._ran_code.discard(session_key)

    async def reap(self) -> int:
        """Remove idle, too old and dead session containers now; return how many."""
        settings = self._settings
        idle, life = settings.sandbox.idle_timeout_s, settings.sandbox.max_life_s
        removed = 0
        for key in expired(self.containers, time.monotonic(), idle, life):
            lock = self._locks.get(key)
            if lock is not None and lock.locked():
                continue
            container = self.containers.pop(key)
            self._locks.pop(key, None)
            await self._engine.discard(container)
            removed += 1
        return removed

    def take_all(self) -> list[Container]:
        """Forget every session (stopping): the caller closes what it gets."""
        containers = list(self.containers.values())
        self.containers.clear()
        return containers
