"""The Docker engine as the sandbox sees it: the connection, its thread pool and its containers.

`Engine` owns the docker-py client (synchronous, so every call runs in a small thread pool that
stopping drains), the check that the engine answers and the image exists (starting the image's
background build when it is missing, and recording why the sandbox is unavailable otherwise),
sweeps of labelled leftovers, and creating, starting and removing one container. Which container
serves which session is `sessions.py`'s; the warm pool is `pool.py`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import docker
from docker.errors import DockerException, ImageNotFound, NotFound

from assistantd.settings import Settings

from . import docker_config as dc
from .autobuild import AutoBuild
from .container import Container, close_attach
from .session_files import SessionFiles

log = logging.getLogger(__name__)
T = TypeVar("T")
STOP_WAIT_S = 15.0
NO_ENGINE_HINT = (
    "to run code, install and start Docker (e.g. `apt-get install docker.io`) or set "
    "ASSISTANTD_SANDBOX_DOCKER_URL to an engine; everything else works meanwhile"
)
NO_ACCESS_HINT = "give this user access to the Docker socket (the `docker` group) or run as root"


async def bounded(awaitable: Any, what: str) -> None:
    """Stopping must not hang on anything: wait a while, then go on (and say so)."""
    try:
        async with asyncio.timeout(STOP_WAIT_S):
            await awaitable
    except TimeoutError:
        log.warning("sandbox stop: gave up waiting for %s", what)


class Engine:
    """The engine connection of one DockerSandbox (one `run_id`, labelled on its containers)."""

    def __init__(self, settings: Settings, files: SessionFiles) -> None:
        self._settings = settings
        self._files = files
        self.run_id = secrets.token_hex(6)
        self._threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sandbox-docker")
        # Built once (no I/O); `api` is set only once the engine and the image were found.
        self.client = docker.APIClient(
            base_url=settings.sandbox.docker_url, version=dc.API_VERSION, timeout=60
        )
        self.api: docker.APIClient | None = None
        self.reason: str | None = "not started"
        self._warned: str | None = None  # the last reason logged, so each is logged once
        self.build: AutoBuild | None = None
        self._start_slots = asyncio.Semaphore(settings.sandbox.start_concurrency)
        self._background: set[asyncio.Task[Any]] = set()
        self._inflight: set[asyncio.Future[Any]] = set()
        self._connecting = asyncio.Lock()
        self.stopped = False

    # -- plumbing ---------------------------------------------------------------------------

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Run a blocking (engine) call in the pool; stopping waits for every one in flight."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._threads, lambda: fn(*args, **kwargs))
        self._inflight.add(future)
        future.add_done_callback(self._inflight.discard)
        return future

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.submit(fn, *args, **kwargs)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run `coro` in the background; stopping cancels what is left of it."""
        if self.stopped:
            coro.close()  # stopping sweeps whatever this would have cleaned up
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _labels(self, session: str) -> dict[str, str]:
        return {
            dc.LABEL_SANDBOX: "1",
            dc.LABEL_INSTANCE: self._settings.sandbox.instance,
            dc.LABEL_RUN: self.run_id,
            dc.LABEL_SESSION: session,
        }

    # -- connection -------------------------------------------------------------------------

    async def _connect(self) -> docker.APIClient | None:
        """Reach the engine and find the image; on failure record why (fail closed)."""
        settings = self._settings
        api = self.client
        url = settings.sandbox.docker_url
        socket_path = url.removeprefix("unix://")
        hint: str | None = NO_ENGINE_HINT
        if url.startswith("unix://") and not await self.call(os.path.exists, socket_path):
            # Checked here because docker-py leaks the socket of a failed unix connect.
            self.reason = f"docker engine unreachable: {url} does not exist"
            self._warn(hint)
            return None
        try:
            await self.call(api.ping)
            await self.call(api.inspect_image, settings.sandbox.image)
        except ImageNotFound:
            if self._follow_build():
                return None
            hint = None
        except (DockerException, OSError) as exc:
            self.reason = f"docker engine unreachable at {settings.sandbox.docker_url}: {exc}"
            hint = NO_ACCESS_HINT if "ermission denied" in str(exc) else hint
        else:
            self.reason = None
            return api
        self._warn(hint)
        return None

    def _warn(self, hint: str | None) -> None:
        """Log why the sandbox is unavailable, and what to do, in one line, once per reason."""
        if self.reason != self._warned:
            self._warned = self.reason
            advice = f"; {hint}" if hint else ""
            log.warning("code interpreter unavailable: %s%s", self.reason, advice)

    def _follow_build(self) -> bool:
        """The image is missing: start (once) its background build; False when that is off or
        the build failed (`reason` then says why)."""
        tag = self._settings.sandbox.image
        advice = "; build it with `assistantd sandbox build --offline`"
        if not self._settings.sandbox.build:
            self.reason = f"sandbox image {tag!r} not found{advice}"
            return False
        if self.build is None or self.build.state == "done":  # done, yet gone again: rebuild
            self.build = AutoBuild(self._settings.sandbox.docker_url, tag)
            self.build.start()
            self.spawn(self._connect_after(self.build))
        self.reason = self.build.describe()
        if self.build.state == "failed":
            self.reason += advice
        return self.build.state == "building"

    async def _connect_after(self, build: AutoBuild) -> None:
        """Connect as soon as the build is done, so the pool starts without waiting for a call."""
        if await build.wait(float("inf")):
            await self.ensure()

    async def ensure(self) -> bool:
        """Connect if not connected yet; the first time, sweep leftovers of earlier runs."""
        if self.api is not None:
            return True
        async with self._connecting:
            if self.api is None:
                api = await self._connect()
                if api is None:
                    return False
                # Sweep before anyone can use the engine: the sweep would take their containers.
                await self._sweep({dc.LABEL_INSTANCE: self._settings.sandbox.instance}, api)
                await self.call(self._files.clear_pool_dirs)
                self.api = api
        return True

    async def ping(self) -> str | None:
        """None when the connected engine answers, else why not."""
        assert self.api is not None
        try:
            await self.call(self.api.ping)
        except (DockerException, OSError) as exc:
            return f"docker engine unreachable: {exc}"
        return None

    async def cancel_background(self, tasks: list[asyncio.Task[None]]) -> None:
        """Stop: cancel `tasks` and every background task; nothing new is spawned after."""
        self.stopped = True
        pending = [*tasks, *self._background]
        for task in pending:
            task.cancel()
        await bounded(asyncio.gather(*pending, return_exceptions=True), "background tasks")

    async def sweep_and_disconnect(self) -> None:
        """Stop, after the containers' sockets are closed: remove every container of this run
        (folders stay), then close the client."""
        # Let engine calls already running finish (a cancelled create still creates), so the
        # sweep below sees their containers and no connection outlives the client.
        inflight = asyncio.gather(*self._inflight, return_exceptions=True)
        await bounded(inflight, "engine calls")
        if self.api is not None:
            await self._sweep({dc.LABEL_RUN: self.run_id}, self.api)
            await self.call(self._files.clear_pool_dirs)
            self.api = None
        self.client.close()
        self.reason = "sandbox is stopped"
        self._threads.shutdown(wait=False)

    async def _sweep(self, labels: dict[str, str], api: docker.APIClient) -> int:
        """Remove every container carrying `assistantd.sandbox=1` and these labels."""
        filters = [f"{dc.LABEL_SANDBOX}=1", *(f"{k}={v}" for k, v in labels.items())]
        found = await self.call(api.containers, all=True, filters={"label": filters})
        await asyncio.gather(*(self._remove(item["Id"], api) for item in found))
        return len(found)

    async def _remove(self, container_id: str, api: docker.APIClient | None = None) -> None:
        api = api if api is not None else self.api
        if api is None:
            return  # stopped: stopping already swept everything of this run
        with contextlib.suppress(NotFound):
            try:
                await self.call(api.remove_container, container_id, force=True)
            except DockerException as exc:
                if "already in progress" not in str(exc):
                    log.warning("cannot remove sandbox container %s: %s", container_id, exc)

    # -- containers -------------------------------------------------------------------------

    def _create_sync(self, name: str, mount_dir: Path, session: str) -> tuple[str, Any]:
        api = self.api
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

    async def launch(self, mount_dir: Path, session: str, *, warm: bool) -> Container:
        """Create, attach, start; wait until the kernel is ready (and warm, for the pool)."""
        name = f"assistantd-sbx-{self.run_id}-{secrets.token_hex(4)}"
        async with self._start_slots:
            created = self.submit(self._create_sync, name, mount_dir, session)
            try:
                container_id, attach = await asyncio.shield(created)
            except asyncio.CancelledError:
                # The engine call goes on in its thread: remove what it creates.
                created.add_done_callback(self._remove_when_created)
                raise
            container = Container(container_id, name, attach, mount_dir)
            try:
                timeout = self._settings.sandbox.start_timeout_s
                async with asyncio.timeout(timeout):
                    await container.ready
                    if warm:
                        await container.warm
            except BaseException:
                await self.discard(container)
                raise
        return container

    def _remove_when_created(self, created: asyncio.Future[tuple[str, Any]]) -> None:
        if not created.cancelled() and created.exception() is None:
            container_id, attach = created.result()
            close_attach(attach)
            self.spawn(self._remove(container_id))

    async def discard(self, container: Container) -> None:
        await container.close()
        await self._remove(container.id)

    async def rename(self, container: Container, key: str) -> None:
        """Show the session in `docker ps` (labels can't change after creation)."""
        new_name = f"assistantd-sbx-{key}-{secrets.token_hex(3)}"
        with contextlib.suppress(DockerException):
            if self.api is not None:
                await self.call(self.api.rename, container.id, new_name)
                container.name = new_name

    async def oom_killed(self, container: Container) -> bool:
        """Did the engine kill this (ended) container for running out of memory?"""
        api = self.api
        if api is None:
            return False
        with contextlib.suppress(DockerException):
            state = (await self.call(api.inspect_container, container.id))["State"]
            return bool(state.get("OOMKilled"))
        return False
