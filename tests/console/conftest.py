"""Fixtures for the console's browser tests: Debian's Chromium driven by Playwright (never a
downloaded browser), a server of its own with the fake upstream, screenshots kept as artefacts.

Without Chromium the tests are skipped with the reason, except in CI, where they fail:
`scripts/services` installs it there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.fakes.upstream import FakeUpstream
from tests.support.server import RunningServer, run_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("ASSISTANTD_TEST_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


# Module scope: while Playwright's sync API is on, the main thread counts as running an event
# loop, so other suites' `asyncio.run` (e.g. making PostgreSQL databases) must not overlap it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the console's browser tests, but Chromium is not installed")
        pytest.skip("the console's browser tests need Chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def console_server(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeUpstream
) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("console")
    settings = make_settings(
        data_dir,
        f"sqlite+aiosqlite:///{data_dir / 'test.db'}",
        upstream_base_url=fake_upstream.base_url,
    )
    with run_server(settings) as running:
        yield running


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
