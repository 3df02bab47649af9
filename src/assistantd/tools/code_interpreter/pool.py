"""The warm pool: pre-started, pre-imported containers that a session's first call claims.

`WarmPool` keeps `sandbox_pool_size` containers ready (refilled in the background whenever one
is claimed or dies) in folders of their own; a claim moves the folder to the session's and
renames the container. Claimed containers are `sessions.py`'s from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from docker.errors import DockerException

from assistantd.settings import Settings

from . import docker_config as dc
from .container import Container, ContainerGone
from .engine import Engine
from .session_files import SessionFiles

log = logging.getLogger(__name__)


class WarmPool:
    def __init__(self, settings: Settings, engine: Engine, files: SessionFiles) -> None:
        self._settings = settings
        self._engine = engine
        self._files = files
        self.containers: list[Container] = []
        self._starting = 0
        self._wakeup = asyncio.Event()

    async def run(self) -> None:
        """Keep the pool full until cancelled (waits while the engine is unavailable)."""
        engine = self._engine
        while not engine.stopped:
            if engine.api is None:
                await asyncio.sleep(5.0)
                continue
            self.containers = [c for c in self.containers if c.alive]
            missing = self._settings.sandbox.pool_size - len(self.containers) - self._starting
            for _ in range(max(0, missing)):
                self._starting += 1
                engine.spawn(self._add())
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await self._wakeup.wait()

    async def _add(self) -> None:
        engine = self._engine
        try:
            mount_dir = await engine.call(self._files.new_pool_dir)
            try:
                container = await engine.launch(mount_dir, dc.POOL_SESSION, warm=True)
            except BaseException:
                await engine.call(self._files.remove_dir, mount_dir)
                raise
            self.containers.append(container)
        except (DockerException, OSError, ContainerGone, TimeoutError) as exc:
            log.warning("sandbox pool start failed: %s", exc)
            await asyncio.sleep(1.0)  # don't spin against a failing engine
        finally:
            self._starting -= 1
            self._wakeup.set()

    async def claim(self, key: str) -> Container | None:
        """A warm container for session `key`, its folder now the session's; None if empty."""
        engine = self._engine
        while self.containers:
            container = self.containers.pop(0)
            self._wakeup.set()
            if not container.alive:
                engine.spawn(engine.discard(container))
                continue
            try:
                container.mount_dir = await engine.call(self._files.adopt, container.mount_dir, key)
            except OSError as exc:
                log.warning("sandbox pool claim failed: %s", exc)
                engine.spawn(engine.discard(container))
                return None
            except asyncio.CancelledError:
                engine.spawn(engine.discard(container))  # claimed by nobody: never reused
                raise
            container.last_used = container.created_at = time.monotonic()
            engine.spawn(engine.rename(container, key))
            return container
        return None

    def take_all(self) -> list[Container]:
        """Empty the pool (stopping): the caller closes what it gets."""
        containers, self.containers = self.containers, []
        return containers
