"""The official Node SDK (`openai` from npm) streams a run and completes a function round trip
with its helpers (tests/node/stream.mjs)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import KEY_A
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.server import RunningServer

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def test_node_sdk_stream_and_function_round(server: RunningServer, fake: FakeUpstream) -> None:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "openai").is_dir():
        if os.environ.get("CI"):
            pytest.fail("CI must run the Node SDK check (scripts/test runs npm ci)")
        pytest.skip("needs node and `npm ci --prefix tests/node`")
    fake.script(
        Turn(text="Hi from node", tokens=["Hi", " from", " node"]),
        Turn(tool_calls=[Call("get_weather", '{"city": "Lyon"}', id="call_n")]),
        Turn(text="It is sunny"),
    )
    env = {**os.environ, "OPENAI_BASE_URL": server.api, "OPENAI_API_KEY": KEY_A}
    done = subprocess.run(
        [node, str(NODE_DIR / "stream.mjs")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "text: Hi from node",
        "status: completed",
        "final text: Hi from node",
        "status: requires_action",
        'tool call: get_weather {"city": "Lyon"}',
        "first event: thread.run.step.completed",
        "answer: It is sunny",
        "status: completed",
    ]
    assert fake.requests[2]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_n",
        "content": "sunny",
    }
