"""The console over plain HTTP: its files are served from the package with a strict CSP and ship
in the wheel; its usage aggregate needs a key and counts only that key's project."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai

from tests.conftest import KEY_A, KEY_B
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.server import RunningServer

ROOT = Path(__file__).resolve().parents[2]


def test_console_is_served_with_a_strict_policy(server: RunningServer) -> None:
    redirect = httpx.get(f"{server.url}/console", follow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["location"] == "console/"
    page = httpx.get(f"{server.url}/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    # Every asset the page names is served from here, none from anywhere else.
    assets = re.findall(r'(?:src|href)="([^"#]+)"', page.text)
    assert set(assets) >= {"app.js", "style.css"}
    for asset in assets:
        assert "//" not in asset, asset
        assert httpx.get(f"{server.url}/console/{asset}").status_code == 200, asset
    missing = httpx.get(f"{server.url}/console/nope.js")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "invalid_request_error"


def test_usage_counts_the_project_of_the_key(
    server: RunningServer, client: openai.OpenAI, other_client: openai.OpenAI, fake: FakeUpstream
) -> None:
    def usage(key: str) -> dict:  # type: ignore[type-arg]
        response = httpx.get(
            f"{server.url}/console/api/usage",
            params={"days": 7},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    before_a, before_b = usage(KEY_A), usage(KEY_B)
    assistant = client.beta.assistants.create(model="gpt-4o", name="counted")
    fake.script(Turn(text="one two three"))
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "hi"}]},
        poll_interval_ms=50,
    )
    assert run.status == "completed" and run.usage is not None
    after_a, after_b = usage(KEY_A), usage(KEY_B)
    assert len(after_a["days"]) == 7
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert after_a["days"][-1]["date"] == today
    grown = after_a["days"][-1]["total_tokens"] - before_a["days"][-1]["total_tokens"]
    assert grown == run.usage.total_tokens
    (mine,) = [a for a in after_a["assistants"] if a["assistant_id"] == assistant.id]
    assert mine["name"] == "counted" and mine["runs"] == 1
    assert mine["total_tokens"] == run.usage.total_tokens
    assert after_b == before_b  # the other project sees nothing of it
    assert all(a["assistant_id"] != assistant.id for a in after_b["assistants"])
    no_key = httpx.get(f"{server.url}/console/api/usage")
    assert no_key.status_code == 401
    bad = httpx.get(
        f"{server.url}/console/api/usage",
        params={"days": 0},
        headers={"Authorization": f"Bearer {KEY_A}"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "days"


def test_the_package_ships_the_console(tmp_path: Path) -> None:
    """What setuptools puts in a wheel or sdist install: the package-data rules at work."""
    subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
         "--build-lib", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )  # fmt: skip
    built = tmp_path / "assistantd/console/static"
    static = ROOT / "src/assistantd/console/static"
    assert sorted(p.name for p in built.iterdir()) == sorted(p.name for p in static.iterdir())
