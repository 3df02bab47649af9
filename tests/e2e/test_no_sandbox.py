"""Without a reachable Docker engine the server serves everything else; /readyz says why the
sandbox is unavailable, and a run whose model calls the code interpreter fails clearly."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import KEY_A, make_settings
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.server import run_server


def test_missing_engine_fails_only_code_runs(tmp_path: Path, fake: FakeUpstream) -> None:
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        upstream_base_url=fake.base_url,
        sandbox_enabled=True,
        sandbox_docker_url=f"unix://{tmp_path / 'no-docker.sock'}",
    )
    with run_server(settings) as server:
        ready = httpx.get(f"{server.url}/readyz").json()
        assert ready["status"] == "ready"  # the database is what readiness needs
        sandbox = ready["checks"]["sandbox"]
        assert sandbox["available"] is False and sandbox["reason"]
        with openai.OpenAI(base_url=server.api, api_key=KEY_A, max_retries=0) as client:
            assistant = client.beta.assistants.create(
                model="gpt-4o", tools=[{"type": "code_interpreter"}]
            )
            thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
            fake.script(Turn(text="Hello without tools"))
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id
            )
            assert run.status == "completed"  # no code needed: the run works
            fake.script(
                Turn(tool_calls=[Call("code_interpreter", json.dumps({"code": "print(1)"}))])
            )
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id
            )
            assert run.status == "failed"
            assert run.last_error is not None and run.last_error.code == "server_error"
            assert "code interpreter is unavailable" in run.last_error.message
            steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
            assert steps[0].status == "failed"


def test_missing_engine_is_one_log_line_saying_what_to_do(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        sandbox_enabled=True,
        sandbox_docker_url=f"unix://{tmp_path / 'no-docker.sock'}",
    )
    caplog.set_level(logging.INFO, logger="assistantd")
    with run_server(settings) as server:
        for _ in range(3):  # each readiness check looks again, without logging it again
            httpx.get(f"{server.url}/readyz").raise_for_status()
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("assistantd") and r.levelno >= logging.WARNING
    ]
    assert len(lines) == 1, lines
    (line,) = lines
    assert "\n" not in line
    assert line.startswith("code interpreter unavailable: docker engine unreachable")
    assert "install and start Docker" in line and "ASSISTANTD_SANDBOX_DOCKER_URL" in line
