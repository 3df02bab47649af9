"""Builds the sandbox image in the background when a server starts without it (`AutoBuild`).

A new user's first `scripts/serve` on a machine with a Docker engine gets a working code
interpreter with no other command: `DockerSandbox` finds the engine but not the image and
starts one `AutoBuild`. It builds from `sandbox/Dockerfile` when the image registry its `FROM`
names answers (a quick probe through the engine), else offline from Debian's packages
(mmdebstrap, see `image.py`). The build runs in a daemon thread, so the server serves everything
else meanwhile and a stop never waits for it; `describe()` is the progress that `/readyz` and
the log show, and code calls made meanwhile `wait()` for it (`DockerSandbox` bounds the wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import threading
import time
from typing import Any, Literal

import docker
from docker.errors import DockerException

from . import image

log = logging.getLogger(__name__)
State = Literal["building", "done", "failed"]


def online_base() -> str | None:
    """The image the online Dockerfile starts FROM, or None without a source checkout."""
    if not image.ONLINE_DOCKERFILE.exists():
        return None
    found = re.search(r"^FROM\s+(\S+)", image.ONLINE_DOCKERFILE.read_text(), re.M)
    return found.group(1) if found else None


def registry_answers(client: docker.DockerClient, reference: str) -> bool:
    """Can the engine reach the registry of `reference`? (Fails in milliseconds offline.)"""
    try:
        client.api.inspect_distribution(reference)
    except (DockerException, OSError) as exc:
        log.info("sandbox: no image registry for %s (%s): building offline", reference, exc)
        return False
    return True


class AutoBuild:
    """One background build of `tag`. Create, `start()` on the loop, then read or await it."""

    def __init__(self, docker_url: str, tag: str) -> None:
        self.tag = tag
        self._docker_url = docker_url
        self.state: State = "building"
        self.route = "checking for an image registry"
        self.step = "starting"
        self.error: str | None = None
        self._started = time.monotonic()
        self._done = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        log.info("sandbox: image %s not found, building it in the background", self.tag)
        threading.Thread(target=self._run, name="sandbox-image-build", daemon=True).start()

    def describe(self) -> str:
        """One line for /readyz and the log."""
        if self.state == "failed":
            return f"building the sandbox image {self.tag} failed: {self.error}"
        if self.state == "done":
            return f"sandbox image {self.tag} built"
        elapsed = int(time.monotonic() - self._started)
        return f"building image {self.tag} ({self.route}; step {self.step}; {elapsed} s so far)"

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "route": self.route, "step": self.step, "error": self.error}

    async def wait(self, timeout_s: float) -> bool:
        """Wait for the build to end; True when it produced the image."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._done.wait()
        except TimeoutError:
            return False
        return self.state == "done"

    # -- in the build thread ------------------------------------------------------------------

    def _progress(self, step: str) -> None:
        self.step = step
        log.info("sandbox: %s", self.describe())

    def _run(self) -> None:
        try:
            client = docker.DockerClient(base_url=self._docker_url, timeout=600)
            try:
                self._build(client)
            finally:
                client.close()
        except Exception as exc:  # the server must go on; the reason is shown instead
            self._finish("failed", f"{type(exc).__name__}: {exc}")
        else:
            self._finish("done", None)

    def _build(self, client: docker.DockerClient) -> None:
        base = online_base()
        if base is not None and registry_answers(client, base):
            self.route = "from sandbox/Dockerfile"
            try:
                image.build_image(
                    tag=self.tag, offline=False, client=client, progress=self._progress
                )
                return
            except (DockerException, OSError) as exc:  # e.g. the registry answers, PyPI doesn't
                if not self._can_build_offline(client):
                    raise
                log.warning("sandbox: online build failed (%s); building offline", exc)
        if not self._can_build_offline(client):
            raise RuntimeError(
                "no image registry answers and mmdebstrap is not installed: install it "
                "(apt-get install mmdebstrap) and restart, or build the image elsewhere and "
                f"`docker load` it as {self.tag}"
            )
        self.route = "offline from Debian's packages"
        image.build_image(tag=self.tag, offline=True, client=client, progress=self._progress)

    @staticmethod
    def _can_build_offline(client: docker.DockerClient) -> bool:
        if image.rootfs_cached() or shutil.which("mmdebstrap") is not None:
            return True
        try:
            client.images.get(image.base_tag())
        except DockerException:
            return False
        return True

    def _finish(self, state: State, error: str | None) -> None:
        self.state, self.error = state, error
        if state == "failed":
            log.warning("sandbox: %s", self.describe())
        else:
            elapsed = time.monotonic() - self._started
            log.info("sandbox: image %s built in %.0f s", self.tag, elapsed)
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the server stopped meanwhile
                self._loop.call_soon_threadsafe(self._done.set)
