"""The `Sandbox` protocol the run executor uses, and `DockerSandbox`, its Docker implementation.

DockerSandbox owns container lifecycles: one container per session key (the thread id), never
reused across sessions; a warm pool of pre-started, pre-imported containers claimed on a
session's first call and refilled in the background; an idle/max-life reaper; and sweeps of
labelled leftovers on start and stop. The docker SDK is synchronous, so every engine call runs
in a small thread pool. It fails closed: without an engine or image, `execute` raises
`SandboxUnavailable`; code never runs on the host. Per-session files live in host folders
(`session_files.py`) that outlive containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import docker
from docker.errors import DockerException, ImageNotFound, NotFound

from assistantd.settings import Settings

from . import docker_config as dc
from .autobuild import AutoBuild
from .container import Container, ContainerGone, close_attach
from .events import (
    ChangedFile,
    Done,
    DoneStatus,
    Image,
    LogChunk,
    SandboxEvent,
    SandboxUnavailable,
)
from .session_files import SessionFiles, check_session_key

log = logging.getLogger(__name__)
T = TypeVar("T")
STOP_WAIT_S = 15.0
STATUSES: tuple[DoneStatus, ...] = ("ok", "error", "timeout", "oom", "killed")
NO_ENGINE_HINT = (
    "to run code, install and start Docker (e.g. `apt-get install docker.io`) or set "
    "ASSISTANTD_SANDBOX_DOCKER_URL to an engine; everything else works meanwhile"
)
NO_ACCESS_HINT = "give this user access to the Docker socket (the `docker` group) or run as root"


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
            settings.sandbox_files_dir, settings.sandbox_uid, settings.sandbox_gid
        )
        self.run_id = secrets.token_hex(6)
        self._threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sandbox-docker")
        # Built once (no I/O); `_api` is set only once the engine and the image were found.
        self._client = docker.APIClient(
            base_url=settings.sandbox_docker_url, version=dc.API_VERSION, timeout=60
        )
        self._api: docker.APIClient | None = None
        self._reason: str | None = "not started"
        self._warned: str | None = None  # the last reason logged, so each is logged once
        self._build: AutoBuild | None = None
        self._sessions: dict[str, Container] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._ran_code: set[str] = set()  # keys whose kernel has run code (for session_reset)
        self._pool: list[Container] = []
        self._pool_starting = 0
        self._pool_wakeup = asyncio.Event()
        self._start_slots = asyncio.Semaphore(settings.sandbox_start_concurrency)
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._inflight: set[asyncio.Future[Any]] = set()
        self._connecting = asyncio.Lock()
        self._exec_ids = itertools.count(1)
        self._running = False
        self._stopped = False

    # -- plumbing ---------------------------------------------------------------------------

    def _submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Run a blocking (engine) call in the pool; stop() waits for every one in flight."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._threads, lambda: fn(*args, **kwargs))
        self._inflight.add(future)
        future.add_done_callback(self._inflight.discard)
        return future

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._submit(fn, *args, **kwargs)

    def _spawn(self, coro: Any) -> None:
        if self._stopped:
            coro.close()  # stop() sweeps whatever this would have cleaned up
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _labels(self, session: str) -> dict[str, str]:
        return {
            dc.LABEL_SANDBOX: "1",
            dc.LABEL_INSTANCE: self._settings.sandbox_instance,
            dc.LABEL_RUN: self.run_id,
            dc.LABEL_SESSION: session,
        }

    # -- lifespan ---------------------------------------------------------------------------

    async def _connect(self) -> docker.APIClient | None:
        """Reach the engine and find the image; on failure record why (fail closed)."""
        settings = self._settings
        api = self._client
        url = settings.sandbox_docker_url
        socket_path = url.removeprefix("unix://")
        hint: str | None = NO_ENGINE_HINT
        if url.startswith("unix://") and not await self._call(os.path.exists, socket_path):
            # Checked here because docker-py leaks the socket of a failed unix connect.
            self._reason = f"docker engine unreachable: {url} does not exist"
            self._warn(hint)
            return None
        try:
            await self._call(api.ping)
            await self._call(api.inspect_image, settings.sandbox_image)
        except ImageNotFound:
            if self._follow_build():
                return None
            hint = None
        except (DockerException, OSError) as exc:
            self._reason = f"docker engine unreachable at {settings.sandbox_docker_url}: {exc}"
            hint = NO_ACCESS_HINT if "ermission denied" in str(exc) else hint
        else:
            self._reason = None
            return api
        self._warn(hint)
        return None

    def _warn(self, hint: str | None) -> None:
        """Log why the sandbox is unavailable, and what to do, in one line, once per reason."""
        if self._reason != self._warned:
            self._warned = self._reason
            advice = f"; {hint}" if hint else ""
            log.warning("code interpreter unavailable: %s%s", self._reason, advice)

    def _follow_build(self) -> bool:
        """The image is missing: start (once) its background build; False when that is off or
        the build failed (`_reason` then says why)."""
        tag = self._settings.sandbox_image
        advice = "; build it with `assistantd sandbox build --offline`"
        if not self._settings.sandbox_build:
            self._reason = f"sandbox image {tag!r} not found{advice}"
            return False
        if self._build is None or self._build.state == "done":  # done, yet gone again: rebuild
            self._build = AutoBuild(self._settings.sandbox_docker_url, tag)
            self._build.start()
            self._spawn(self._connect_after(self._build))
        self._reason = self._build.describe()
        if self._build.state == "failed":
            self._reason += advice
        return self._build.state == "building"

    async def _connect_after(self, build: AutoBuild) -> None:
        """Connect as soon as the build is done, so the pool starts without waiting for a call."""
        if await build.wait(float("inf")):
            await self._ensure_engine()

    async def _ensure_engine(self) -> bool:
        """Connect if not connected yet; the first time, sweep leftovers of earlier runs."""
        if self._api is not None:
            return True
        async with self._connecting:
            if self._api is None:
                api = await self._connect()
                if api is None:
                    return False
                # Sweep before anyone can use the engine: the sweep would take their containers.
                await self._sweep({dc.LABEL_INSTANCE: self._settings.sandbox_instance}, api)
                await self._call(self.files.clear_pool_dirs)
                self._api = api
        return True

    async def start(self) -> None:
        """Connect, sweep orphans, start the reaper and the pool. Never raises for a missing
        engine or image: `status()` then says why and `execute` raises SandboxUnavailable."""
        self._running = True
        await self._ensure_engine()
        self._tasks = [
            asyncio.get_running_loop().create_task(self._reap_loop(), name="sandbox-reaper"),
            asyncio.get_running_loop().create_task(self._pool_loop(), name="sandbox-pool"),
        ]

    async def stop(self) -> None:
        """Remove every container of this run (sessions and pool); folders stay. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._running = False
        tasks = [*self._tasks, *self._background]
        for task in tasks:
            task.cancel()
        await self._bounded(asyncio.gather(*tasks, return_exceptions=True), "background tasks")
        self._tasks = []
        containers = [*self._sessions.values(), *self._pool]
        self._sessions.clear()
        self._pool.clear()
        await self._bounded(
            asyncio.gather(*(c.close() for c in containers), return_exceptions=True), "sockets"
        )
        # Let engine calls already running finish (a cancelled create still creates), so the
        # sweep below sees their containers and no connection outlives the client.
        inflight = asyncio.gather(*self._inflight, return_exceptions=True)
        await self._bounded(inflight, "engine calls")
        if self._api is not None:
            await self._sweep({dc.LABEL_RUN: self.run_id}, self._api)
            await self._call(self.files.clear_pool_dirs)
            self._api = None
        self._client.close()
        self._reason = "sandbox is stopped"
        self._threads.shutdown(wait=False)

    @staticmethod
    async def _bounded(awaitable: Any, what: str) -> None:
        """stop() must not hang on anything: wait a while, then go on (and say so)."""
        try:
            async with asyncio.timeout(STOP_WAIT_S):
                await awaitable
        except TimeoutError:
            log.warning("sandbox stop: gave up waiting for %s", what)

    def counts(self) -> tuple[int, int]:
        """(live sessions, warm pool) for the metrics."""
        return len(self._sessions), len(self._pool)

    async def status(self) -> dict[str, Any]:
        """For /readyz: `{"available": True, ...}` or `{"available": False, "reason": ...}`."""
        if not self._running:
            return {"available": False, "reason": "sandbox is not started"}
        if not await self._ensure_engine():
            build = {"build": self._build.as_dict()} if self._build is not None else {}
            return {"available": False, "reason": self._reason, **build}
        assert self._api is not None
        try:
            await self._call(self._api.ping)
        except (DockerException, OSError) as exc:
            return {"available": False, "reason": f"docker engine unreachable: {exc}"}
        return {
            "available": True,
            "image": self._settings.sandbox_image,
            "sessions": len(self._sessions),
            "pool": len(self._pool),
        }

    async def _sweep(self, labels: dict[str, str], api: docker.APIClient) -> int:
        """Remove every container carrying `assistantd.sandbox=1` and these labels."""
        filters = [f"{dc.LABEL_SANDBOX}=1", *(f"{k}={v}" for k, v in labels.items())]
        found = await self._call(api.containers, all=True, filters={"label": filters})
        await asyncio.gather(*(self._remove(item["Id"], api) for item in found))
        return len(found)

    async def _remove(self, container_id: str, api: docker.APIClient | None = None) -> None:
        api = api if api is not None else self._api
        if api is None:
            return  # stopped: stop() already swept everything of this run
        with contextlib.suppress(NotFound):
            try:
                await self._call(api.remove_container, container_id, force=True)
            except DockerException as exc:
                if "already in progress" not in str(exc):
                    log.warning("cannot remove sandbox container %s: %s", container_id, exc)

    # -- containers -------------------------------------------------------------------------

    def _create_sync(self, name: str, mount_dir: Path, session: str) -> tuple[str, Any]:
        api = self._api
        assert api is not None
        kwargs = dc.create_kwargs(
            self._settings, name=name, mount_dir=mount_dir, labels=self._labels(session)
        )
        container_id = api.create_container(**kwargs)["Id"]
        attach = None
        try:
            attach = api.attach_socket(
                container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            api.start(container_id)
        except BaseException:
            if attach is not None:
                close_attach(attach)
            with contextlib.suppress(DockerException):
                api.remove_container(container_id, force=True)
            raise
        return container_id, attach

    async def _launch(self, mount_dir: Path, session: str, *, warm: bool) -> Container:
        """Create, attach, start; wait until the kernel is ready (and warm, for the pool)."""
        name = f"assistantd-sbx-{self.run_id}-{secrets.token_hex(4)}"
        async with self._start_slots:
            created = self._submit(self._create_sync, name, mount_dir, session)
            try:
                container_id, attach = await asyncio.shield(created)
            except asyncio.CancelledError:
                # The engine call goes on in its thread: remove what it creates.
                created.add_done_callback(self._remove_when_created)
                raise
            container = Container(container_id, name, attach, mount_dir)
            try:
                timeout = self._settings.sandbox_start_timeout_s
                async with asyncio.timeout(timeout):
                    await container.ready
                    if warm:
                        await container.warm
            except BaseException:
                await self._discard(container)
                raise
        return container

    def _remove_when_created(self, created: asyncio.Future[tuple[str, Any]]) -> None:
        if not created.cancelled() and created.exception() is None:
            container_id, attach = created.result()
            close_attach(attach)
            self._spawn(self._remove(container_id))

    async def _discard(self, container: Container) -> None:
        await container.close()
        await self._remove(container.id)

    # -- pool -------------------------------------------------------------------------------

    async def _pool_loop(self) -> None:
        while self._running:
            if self._api is None:
                await asyncio.sleep(5.0)
                continue
            self._pool = [c for c in self._pool if c.alive]
            missing = self._settings.sandbox_pool_size - len(self._pool) - self._pool_starting
            for _ in range(max(0, missing)):
                self._pool_starting += 1
                self._spawn(self._add_pool_container())
            self._pool_wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await self._pool_wakeup.wait()

    async def _add_pool_container(self) -> None:
        try:
            mount_dir = await self._call(self.files.new_pool_dir)
            try:
                container = await self._launch(mount_dir, dc.POOL_SESSION, warm=True)
            except BaseException:
                await self._call(self.files.remove_dir, mount_dir)
                raise
            self._pool.append(container)
        except (DockerException, OSError, ContainerGone, TimeoutError) as exc:
            log.warning("sandbox pool start failed: %s", exc)
            await asyncio.sleep(1.0)  # don't spin against a failing engine
        finally:
            self._pool_starting -= 1
            self._pool_wakeup.set()

    async def _claim(self, key: str) -> Container | None:
        while self._pool:
            container = self._pool.pop(0)
            self._pool_wakeup.set()
            if not container.alive:
                self._spawn(self._discard(container))
                continue
            try:
                container.mount_dir = await self._call(self.files.adopt, container.mount_dir, key)
            except OSError as exc:
                log.warning("sandbox pool claim failed: %s", exc)
                self._spawn(self._discard(container))
                return None
            except asyncio.CancelledError:
                self._spawn(self._discard(container))  # claimed by nobody: never reused
                raise
            container.last_used = container.created_at = time.monotonic()
            self._spawn(self._rename(container, key))
            return container
        return None

    async def _rename(self, container: Container, key: str) -> None:
        """Show the session in `docker ps` (labels can't change after creation)."""
        new_name = f"assistantd-sbx-{key}-{secrets.token_hex(3)}"
        with contextlib.suppress(DockerException):
            if self._api is not None:
                await self._call(self._api.rename, container.id, new_name)
                container.name = new_name

    # -- sessions ---------------------------------------------------------------------------

    async def _check_available(self) -> None:
        if not self._running:
            raise SandboxUnavailable("sandbox is not started" if not self._stopped else "stopped")
        if await self._ensure_engine():
            return
        build = self._build
        if build is not None and build.state == "building":  # wait for it (bounded)
            await build.wait(self._settings.sandbox_build_wait_s)
            if await self._ensure_engine():
                return
        raise SandboxUnavailable(self._reason or "docker engine unavailable")

    async def _session(self, key: str) -> Container:
        container = self._sessions.get(key)
        if container is not None and container.alive:
            return container
        if container is not None:
            del self._sessions[key]
            self._spawn(self._discard(container))
        container = await self._claim(key)
        if container is None:
            mount_dir = await self._call(self.files.session_dir, key)
            try:
                container = await self._launch(mount_dir, key, warm=False)
            except (DockerException, OSError, ContainerGone, TimeoutError) as exc:
                raise SandboxUnavailable(f"cannot start a sandbox container: {exc}") from exc
        self._sessions[key] = container
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
        timeout = timeout_s if timeout_s is not None else self._settings.sandbox_exec_timeout_s
        grace = self._settings.sandbox_kill_grace_s
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
                self._spawn(self._abandon(container, lock, grace))

    async def _next_event(
        self, key: str, container: Container, exec_id: int, watchdog: float
    ) -> SandboxEvent:
        while True:
            remaining = watchdog - time.monotonic()
            try:
                async with asyncio.timeout(max(0.0, remaining)):
                    item = await container.queue.get()
            except TimeoutError:
                await self._discard(container)
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
            await self._call(self.files.mark_ran, key)

    async def _has_run(self, key: str) -> bool:
        """Has an earlier kernel of this session run code (in this or an earlier process)?"""
        return key in self._ran_code or await self._call(self.files.has_run, key)

    async def _done(self, key: str, message: dict[str, Any]) -> Done:
        status = message.get("status")
        files = [
            ChangedFile(str(item["path"]), int(item["size"]))
            for item in message.get("files", [])
            if isinstance(item, dict)
        ]
        reset = bool(message.get("fresh")) and await self._has_run(key)
        final: DoneStatus = next((s for s in STATUSES if s == status), "error")
        over = await self._call(self._enforce_quota, key, files)
        return Done(final, [] if over else files, reset, over)

    def _enforce_quota(self, key: str, files: list[ChangedFile]) -> bool:
        """/mnt/data is a host folder (no per-mount size limit on overlay2/ext4): after each
        call, if it outgrew `sandbox_data_bytes`, the files this call wrote are removed."""
        if self.files.usage(key) <= self._settings.sandbox_data_bytes:
            return False
        for changed in files:
            self.files.remove(key, changed.path)
        return True

    async def _container_died(self, container: Container) -> Done:
        """The attach stream ended mid-call: find out why, clean up, report."""
        status: DoneStatus = "killed"
        api = self._api
        if api is not None:
            with contextlib.suppress(DockerException):
                state = (await self._call(api.inspect_container, container.id))["State"]
                if state.get("OOMKilled"):
                    status = "oom"
        self._spawn(self._discard(container))
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
            await self._discard(container)
        finally:
            lock.release()

    async def interrupt(self, session_key: str) -> None:
        container = self._sessions.get(session_key)
        if container is not None and container.alive and container.busy:
            with contextlib.suppress(ContainerGone):
                await container.send({"op": "interrupt"})

    async def put_file(self, session_key: str, name: str, data: bytes) -> None:
        check_session_key(session_key)
        lock = self._locks.setdefault(session_key, asyncio.Lock())
        if lock.locked() and self._sessions.get(session_key) is None:
            async with lock:  # a pool claim may be moving the folder
                await self._call(self.files.put, session_key, name, data)
        else:
            await self._call(self.files.put, session_key, name, data)

    async def read_file(self, session_key: str, relative_path: str) -> bytes:
        max_bytes = self._settings.sandbox_max_read_bytes
        return await self._call(self.files.read, session_key, relative_path, max_bytes)

    async def remove_file(self, session_key: str, relative_path: str) -> None:
        await self._call(self.files.remove, session_key, relative_path)

    async def close_session(self, session_key: str, *, delete_files: bool = False) -> None:
        """Remove the session's container; its files stay unless `delete_files`."""
        container = self._sessions.pop(session_key, None)
        if container is not None:
            await self._discard(container)
        lock = self._locks.get(session_key)
        if lock is not None and not lock.locked():
            del self._locks[session_key]
        if delete_files:
            await self._call(self.files.delete, session_key)
            self._ran_code.discard(session_key)

    # -- reaper -----------------------------------------------------------------------------

    async def _reap_loop(self) -> None:
        while self._running:
            await asyncio.sleep(self._settings.sandbox_reap_interval_s)
            await self.reap()

    async def reap(self) -> int:
        """Remove idle, too old and dead session containers now; return how many."""
        now = time.monotonic()
        idle, life = self._settings.sandbox_idle_timeout_s, self._settings.sandbox_max_life_s
        expired = [
            key
            for key, c in self._sessions.items()
            if not c.alive
            or (not c.busy and (now - c.last_used > idle or now - c.created_at > life))
        ]
        removed = 0
        for key in expired:
            lock = self._locks.get(key)
            if lock is not None and lock.locked():
                continue
            container = self._sessions.pop(key)
            self._locks.pop(key, None)
            await self._discard(container)
            removed += 1
        return removed
