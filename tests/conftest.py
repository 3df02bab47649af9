"""Shared fixtures: a real server per database backend, official SDK clients whose every JSON
response is validated against OpenAI's spec.

The suite runs on SQLite always, and on PostgreSQL too when ASSISTANTD_TEST_DATABASE_URL is set
(`.ci/run` sets it). Without it the PostgreSQL parameter is skipped with that reason; CI fails
if it is not set (see .ci/run). The streaming modules (REDIS_MODULES) also run on PostgreSQL
with the Redis broker (ASSISTANTD_TEST_REDIS_URL, set the same way).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from assistantd.settings import Settings
from tests.fakes.upstream import FakeUpstream
from tests.support.redis import drop_prefix, fresh_prefix, shared_redis_url
from tests.support.s3 import moto_server, s3_overrides
from tests.support.server import (
    RunningServer,
    dump_servers,
    fresh_postgres_database,
    run_server,
)
from tests.support.spec import validate_response

KEY_A = "sk-test-alpha"
KEY_B = "sk-test-beta"
API_KEYS = f"{KEY_A}=alpha,{KEY_B}=beta"

BACKENDS = ["sqlite", "postgres"]
# What the files tests also run on: PostgreSQL with the S3 blob store.
BLOB_BACKENDS = [*BACKENDS, "postgres-s3"]
# The `server` fixture also serves PostgreSQL with the Redis broker, as many nodes run it: for
# the modules of the SSE contract only (the others deselect it, to keep the suite's time).
SERVER_BACKENDS = [*BACKENDS, "postgres-redis"]
REDIS_MODULES = {
    "tests.contract.test_run_shapes",
    "tests.e2e.test_runs_stream",
    "tests.e2e.test_runs_handlers",
    "tests.e2e.test_runs_functions",
    "tests.e2e.test_runs_cancel",
    "tests.e2e.test_node_sdk",
    "tests.e2e.test_v1_sdk",
    "tests.e2e.test_run_events",
}

# --- a hung test: pytest-timeout (pyproject.toml) fails it after dumping every thread's stack;
# a moment before, the servers' asyncio tasks are dumped too, so a CI log shows what waited.
_DUMP_TIMER = pytest.StashKey[threading.Timer]()


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> None:
    lead = min(2.0, settings.timeout / 10)
    timer = threading.Timer(settings.timeout - lead, dump_servers)
    timer.daemon = True
    timer.start()
    item.stash[_DUMP_TIMER] = timer
    # None: pytest-timeout's own implementation arms the failing timer


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The Docker suite may build the sandbox image in its first test's setup: more time.
    The `postgres-redis` server runs only the streaming modules (REDIS_MODULES)."""
    kept, deselected = [], []
    for item in items:
        if "tests/docker/" in item.nodeid and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(1200))
        callspec = getattr(item, "callspec", None)
        module = getattr(getattr(item, "module", None), "__name__", "")
        if (
            callspec is not None
            and callspec.params.get("server") == "postgres-redis"
            and module not in REDIS_MODULES
        ):
            deselected.append(item)
        else:
            kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> None:
    timer = item.stash.get(_DUMP_TIMER, None)
    if timer is not None:
        timer.cancel()


def _database_url(backend: str, stack: ExitStack, data_dir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{data_dir / 'test.db'}"
    base = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
    if not base and os.environ.get("CI"):
        pytest.fail("CI must run the PostgreSQL tests: ASSISTANTD_TEST_DATABASE_URL is not set")
    if not base:
        pytest.skip("PostgreSQL tests need ASSISTANTD_TEST_DATABASE_URL (scripts/test sets it)")
    return stack.enter_context(fresh_postgres_database(base))


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "api_keys": API_KEYS,
        "upstream_base_url": "http://127.0.0.1:9/v1",
        "upstream_max_retries": 2,
        "sandbox_enabled": False,  # the Docker suite (tests/docker) turns it on
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    """The stand-in model: a real HTTP chat-completions server with scripted answers."""
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def fake(fake_upstream: FakeUpstream) -> Iterator[FakeUpstream]:
    fake_upstream.reset()
    yield fake_upstream
    fake_upstream.reset()


@pytest.fixture(scope="session")
def s3_url() -> Iterator[str]:
    """A real S3-speaking server (moto's server mode): see tests/support/s3.py."""
    with moto_server() as url:
        yield url


def serve_backend(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: FakeUpstream,
    **overrides: Any,
) -> Iterator[RunningServer]:
    """A server for `request.param`: `sqlite`, `postgres`, `postgres-s3` (PostgreSQL with
    the S3 blob store) or `postgres-redis` (with the Redis broker), as many nodes run them."""
    backend = str(request.param)
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    with ExitStack() as stack:
        url = _database_url(backend.removesuffix("-s3").removesuffix("-redis"), stack, data_dir)
        if backend.endswith("-s3"):
            overrides = {**s3_overrides(request.getfixturevalue("s3_url")), **overrides}
        if backend.endswith("-redis"):
            redis_url, prefix = shared_redis_url(), fresh_prefix()
            stack.callback(drop_prefix, redis_url, prefix)
            overrides = {"redis_url": redis_url, "redis_prefix": prefix, **overrides}
        settings = make_settings(
            data_dir, url, upstream_base_url=fake_upstream.base_url, **overrides
        )
        yield stack.enter_context(run_server(settings))


@pytest.fixture(scope="session", params=SERVER_BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: FakeUpstream,
) -> Iterator[RunningServer]:
    yield from serve_backend(request, tmp_path_factory, fake_upstream)


class SpecChecked(httpx.Client):
    """An httpx client for the SDK that validates each JSON response against the spec."""

    checked: list[str]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(event_hooks={"response": [self._check]}, **kwargs)
        self.checked = []

    def _check(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            return
        if not response.headers.get("content-type", "").startswith("application/json"):
            return
        response.read()
        path = response.request.url.path.removeprefix("/v1")
        component = validate_response(response.request.method, path, response.json())
        if component:
            self.checked.append(component)


class AsyncSpecChecked(httpx.AsyncClient):
    """`SpecChecked` for the async SDK."""

    checked: list[str]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(event_hooks={"response": [self._check]}, **kwargs)
        self.checked = []

    async def _check(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            return
        if not response.headers.get("content-type", "").startswith("application/json"):
            return
        await response.aread()
        path = response.request.url.path.removeprefix("/v1")
        component = validate_response(response.request.method, path, response.json())
        if component:
            self.checked.append(component)


def async_sdk(server: RunningServer, key: str = KEY_A, **kwargs: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=server.api, api_key=key, http_client=AsyncSpecChecked(), max_retries=0, **kwargs
    )


def sdk(server: RunningServer, key: str = KEY_A, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.api, api_key=key, http_client=SpecChecked(), max_retries=0, **kwargs
    )


@pytest.fixture
def client(server: RunningServer) -> Iterator[openai.OpenAI]:
    """The official SDK as project `alpha`."""
    with sdk(server, KEY_A) as alpha:
        yield alpha


@pytest.fixture
def other_client(server: RunningServer) -> Iterator[openai.OpenAI]:
    """The official SDK as project `beta`."""
    with sdk(server, KEY_B) as beta:
        yield beta


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    """Raw HTTP as project `alpha`, for what the SDK can't send (bad bodies, odd headers)."""
    with httpx.Client(
        base_url=server.api, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=30
    ) as raw:
        yield raw
