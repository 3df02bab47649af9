from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from assistantd.settings import Settings
from assistantd.upstream import UpstreamClient
from tests.fakes.upstream import FakeUpstream


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def fake(fake_server: FakeUpstream) -> Iterator[FakeUpstream]:
    fake_server.reset()
    yield fake_server
    fake_server.reset()


def settings_for(fake: FakeUpstream, **overrides: object) -> Settings:
    values: dict[str, Any] = {
        "upstream_base_url": fake.base_url,
        "upstream_api_key": "sk-test",
        "upstream_max_retries": 2,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
async def client(fake: FakeUpstream) -> AsyncIterator[UpstreamClient]:
    upstream = UpstreamClient(settings_for(fake), idle_timeout_s=2.0, backoff_base_s=0.01)
    yield upstream
    await upstream.aclose()
