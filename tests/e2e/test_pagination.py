"""Cursor pagination: both SDK generations page through 250 objects made within a few seconds
(so many share a created_at second) without skipping or repeating one."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import KEY_A
from tests.support.server import RunningServer

COUNT = 250
OPENAI1_PYTHON = Path(__file__).resolve().parents[2] / ".venv-openai1" / "bin" / "python"


@pytest.fixture(scope="module")
def filled_thread(server: RunningServer) -> tuple[str, list[str]]:
    with httpx.Client(base_url=server.api, headers={"Authorization": f"Bearer {KEY_A}"}) as http:
        thread = http.post("/threads", json={}).json()["id"]
        ids = [
            http.post(
                f"/threads/{thread}/messages", json={"role": "user", "content": f"m{i}"}
            ).json()["id"]
            for i in range(COUNT)
        ]
    return thread, ids


def test_sdk3_auto_paginates_both_orders(
    client: openai.OpenAI, filled_thread: tuple[str, list[str]]
) -> None:
    thread, ids = filled_thread
    ascending = [m.id for m in client.beta.threads.messages.list(thread, order="asc", after="")]
    assert ascending == ids
    descending = [m.id for m in client.beta.threads.messages.list(thread, limit=7)]
    assert descending == ids[::-1]


def test_page_fields_and_cursors(http: httpx.Client, filled_thread: tuple[str, list[str]]) -> None:
    thread, ids = filled_thread
    page = http.get(f"/threads/{thread}/messages", params={"order": "asc", "limit": 100}).json()
    assert [m["id"] for m in page["data"]] == ids[:100]
    assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[0], ids[99], True)
    last = http.get(
        f"/threads/{thread}/messages", params={"order": "asc", "after": ids[199], "limit": 100}
    ).json()
    assert [m["id"] for m in last["data"]] == ids[200:]
    assert last["has_more"] is False
    before = http.get(
        f"/threads/{thread}/messages", params={"order": "asc", "before": ids[50], "limit": 10}
    ).json()
    assert [m["id"] for m in before["data"]] == ids[40:50]
    assert before["has_more"] is True
    between = http.get(
        f"/threads/{thread}/messages", params={"order": "desc", "after": ids[20], "before": ids[10]}
    ).json()
    assert [m["id"] for m in between["data"]] == ids[19:10:-1]
    empty = http.get(f"/threads/{thread}/messages", params={"after": ids[0]}).json()
    assert empty == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
    assert http.get(f"/threads/{thread}/messages", params={"limit": 101}).status_code == 400
    bad_order = http.get(f"/threads/{thread}/messages", params={"order": "up"})
    assert bad_order.status_code == 400
    assert bad_order.json()["error"]["param"] == "order"


V1_SCRIPT = """
import json, sys, openai
client = openai.OpenAI(base_url=sys.argv[1], api_key=sys.argv[2], max_retries=0)
ids = [m.id for m in client.beta.threads.messages.list(sys.argv[3], order="asc", after="")]
print(json.dumps({"version": openai.__version__, "ids": ids}))
"""


@pytest.mark.skipif(
    not OPENAI1_PYTHON.exists() and not os.environ.get("CI"),
    reason="the openai 1.20 SDK venv (.venv-openai1) is made by scripts/test",
)
def test_sdk_1_20_pages_until_an_empty_page(
    server: RunningServer, filled_thread: tuple[str, list[str]]
) -> None:
    thread, ids = filled_thread
    result = subprocess.run(
        [str(OPENAI1_PYTHON), "-W", "ignore", "-c", V1_SCRIPT, server.api, KEY_A, thread],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["version"] == "1.20.0"
    assert output["ids"] == ids
