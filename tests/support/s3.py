"""A real S3-speaking server for the S3 blob store: moto's server mode, on a free port.

`scripts/services` starts one for CI and names it in `.ci-services.env`
(ASSISTANTD_TEST_S3_URL); without it a test session starts its own and stops it at the end.
Every server under test gets a bucket of its own, so tests never see each other's objects.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.support.server import free_port

# moto accepts any credentials; boto3 needs some to sign with.
CREDENTIALS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing"}


@contextmanager
def moto_server() -> Iterator[str]:
    """The URL of a running moto server: the CI's, or one started here for this session."""
    if url := os.environ.get("ASSISTANTD_TEST_S3_URL"):
        httpx.get(url, timeout=5)  # reachable, or the tests fail here, saying so
        yield url
        return
    with own_moto_server() as (url, _):
        yield url


@contextmanager
def own_moto_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A moto server of the caller's own (its URL and process), e.g. to stop it mid-test."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def s3_overrides(url: str, bucket: str | None = None) -> dict[str, Any]:
    """Settings for a server on the S3 store at `url`, in a fresh bucket (made on start)."""
    return {
        "blob_store": "s3",
        "s3_endpoint_url": url,
        "s3_bucket": bucket or f"assistantd-test-{uuid.uuid4().hex[:12]}",
        "s3_region": "us-east-1",
        "s3_prefix": "blobs/",
        "s3_addressing_style": "path",
        "s3_create_bucket": True,
        **CREDENTIALS,
    }
