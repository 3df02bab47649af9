"""Fixtures for the real-Docker sandbox suite: the image (built once, offline), sandboxes.

Every test here talks to a real engine; without one the whole directory is skipped with the
reason. The image build is a no-op when the content hash label matches.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest

from assistantd.settings import Settings
from assistantd.tools.code_interpreter.events import Done, Image, LogChunk
from assistantd.tools.code_interpreter.image import build_image
from assistantd.tools.code_interpreter.sandbox import DockerSandbox

IMAGE_TAG = "assistantd-sandbox:test"


@pytest.fixture(scope="session")
def docker_api() -> docker.APIClient:
    try:
        api = docker.APIClient(version="1.41")
        api.ping()
    except Exception as exc:  # the engine is missing: the suite cannot run
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Docker tests, but the engine is unreachable: {exc}")
        pytest.skip(f"docker engine unreachable: {exc}")
    return api


@pytest.fixture(scope="session")
def sandbox_image(docker_api: docker.APIClient) -> str:
    return build_image(tag=IMAGE_TAG, offline=True)


def sandbox_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "sandbox_image": IMAGE_TAG,
        # Unique per sandbox: start() sweeps every container of its instance label.
        "sandbox_instance": f"pytest-{secrets.token_hex(4)}",
        "sandbox_pool_size": 0,
        "sandbox_memory_bytes": 512 * 1024**2,
        "sandbox_kill_grace_s": 1.0,
        "sandbox_exec_timeout_s": 30.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass
class Result:
    logs: str = ""
    images: list[bytes] = field(default_factory=list)
    done: Done | None = None
    log_times: list[float] = field(default_factory=list)
    done_time: float = 0.0

    @property
    def status(self) -> str:
        assert self.done is not None
        return self.done.status


async def run(sandbox: DockerSandbox, key: str, code: str, timeout_s: float = 30.0) -> Result:
    result = Result()
    async for event in sandbox.execute(key, code, timeout_s=timeout_s):
        if isinstance(event, LogChunk):
            result.logs += event.text
            result.log_times.append(time.monotonic())
        elif isinstance(event, Image):
            result.images.append(event.png)
        else:
            result.done = event
            result.done_time = time.monotonic()
    assert result.done is not None
    return result


SandboxFactory = Callable[..., Awaitable[DockerSandbox]]


@pytest.fixture
async def make_sandbox(
    sandbox_image: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SandboxFactory]:
    started: list[DockerSandbox] = []

    async def factory(**overrides: Any) -> DockerSandbox:
        data_dir = overrides.pop("data_dir", None) or tmp_path_factory.mktemp("sandbox-data")
        sandbox = DockerSandbox(sandbox_settings(data_dir, **overrides))
        await sandbox.start()
        started.append(sandbox)
        return sandbox

    yield factory
    for sandbox in started:
        await sandbox.stop()


@pytest.fixture(scope="module")
async def sandbox(
    sandbox_image: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DockerSandbox]:
    """One shared sandbox (no pool) per test module; tests use distinct session keys."""
    sandbox = DockerSandbox(sandbox_settings(tmp_path_factory.mktemp("sandbox-data")))
    await sandbox.start()
    status = await sandbox.status()
    assert status["available"], status
    yield sandbox
    await sandbox.stop()


async def wait_for(predicate: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)
