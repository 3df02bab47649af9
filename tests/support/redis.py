"""Redis for the tests: the shared server named by ASSISTANTD_TEST_REDIS_URL (each test takes its
own key prefix: never FLUSHALL a shared Redis) or a private `redis-server` on a free port that a
fault test may kill and restart."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.support.server import free_port


def shared_redis_url() -> str:
    """The test Redis; CI must have one (scripts/services starts it)."""
    url = os.environ.get("ASSISTANTD_TEST_REDIS_URL")
    if not url and os.environ.get("CI"):
        pytest.fail("CI must run the Redis tests: ASSISTANTD_TEST_REDIS_URL is not set")
    if not url:
        pytest.skip("Redis tests need ASSISTANTD_TEST_REDIS_URL (scripts/test sets it)")
    return url


def fresh_prefix() -> str:
    return f"assistantd-test-{uuid.uuid4().hex[:10]}:"


def drop_prefix(url: str, prefix: str) -> None:
    """Delete the keys a test made (only its own prefix)."""
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)


class PrivateRedis:
    """A `redis-server` of our own, without persistence, that can be killed and restarted."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("CI"):
                pytest.fail("CI must run the Redis fault tests: redis-server is not installed")
            pytest.skip("the Redis fault tests need redis-server (scripts/services installs it)")
        self._binary = binary
        self._workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [self._binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self._workdir)]
        command += ["--enable-debug-command", "local"]  # DEBUG SLEEP: a stalled Redis
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with redis.Redis(port=self.port, socket_connect_timeout=0.2) as client:
                    client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)
            self._process = None


@contextmanager
def private_redis(workdir: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(workdir)
    server.start()
    try:
        yield server
    finally:
        server.kill()
