"""A thread's code interpreter moving between nodes (two servers, each with its own sandboxes
and data directory, on one PostgreSQL database and one S3 bucket): the run on node B gets a
new Python session there, the model is told its variables were reset, and the files the code
wrote on node A are in B's /mnt/data, through the blob store. The output files download from
either node."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import openai
import pytest

from assistantd.settings import Settings
from tests.conftest import KEY_A, make_settings
from tests.docker.conftest import IMAGE_TAG
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.s3 import s3_overrides
from tests.support.server import fresh_postgres_database, run_server

pytestmark = pytest.mark.docker


def _code(code: str) -> Call:
    return Call("code_interpreter", json.dumps({"code": code}))


def _logs(client: openai.OpenAI, thread_id: str, run_id: str) -> str:
    steps = client.beta.threads.runs.steps.list(run_id, thread_id=thread_id, order="asc")
    out = []
    for step in steps:
        if step.step_details.type != "tool_calls":
            continue
        for call in step.step_details.tool_calls:
            for output in call.code_interpreter.outputs:  # type: ignore[union-attr]
                if output.type == "logs":
                    out.append(output.logs)
    return "".join(out)


def _postgres() -> str:
    base = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: ASSISTANTD_TEST_DATABASE_URL unset")
        pytest.skip("needs PostgreSQL: ASSISTANTD_TEST_DATABASE_URL (scripts/test sets it)")
    return base


def _nodes(database: str, s3_url: str, fake: FakeUpstream, tmp_path: Path) -> Any:
    """Settings for node `name`: its own data directory and sandbox label; the rest shared."""
    bucket = s3_overrides(s3_url)

    def node(name: str) -> Settings:
        return make_settings(
            tmp_path / name,
            database,
            upstream_base_url=fake.base_url,
            sandbox_enabled=True,
            sandbox_image=IMAGE_TAG,
            sandbox_pool_size=0,
            sandbox_exec_timeout_s=30.0,
            sandbox_instance=f"pytest-nodes-{name}-{secrets.token_hex(4)}",
            **bucket,
        )

    return node


def test_mnt_data_follows_the_thread_to_another_node(
    sandbox_image: str, s3_url: str, fake: FakeUpstream, tmp_path: Path
) -> None:
    with fresh_postgres_database(_postgres()) as database:
        node = _nodes(database, s3_url, fake, tmp_path)

        fake.script(
            Turn(tool_calls=[_code("x = 41\nopen('/mnt/data/notes.txt', 'w').write('tide 7')")]),
            Turn(text="Saved. [notes](sandbox:/mnt/data/notes.txt)"),
            Turn(tool_calls=[_code("print(open('/mnt/data/notes.txt').read(), 'x' in dir())")]),
            Turn(text="Read it back."),
        )
        with (
            run_server(node("a")) as node_a,
            openai.OpenAI(base_url=node_a.api, api_key=KEY_A, max_retries=0) as a,
        ):
            assistant = a.beta.assistants.create(
                model="gpt-4o", tools=[{"type": "code_interpreter"}]
            )
            thread = a.beta.threads.create(messages=[{"role": "user", "content": "save it"}])
            first = a.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100
            )
            assert first.status == "completed", first.last_error
            answer = a.beta.threads.messages.list(thread.id).data[0].content[0].text
            (link,) = answer.annotations  # type: ignore[union-attr]
            made_id = link.file_path.file_id  # type: ignore[union-attr]
        # Node A is gone (its session with it); the thread goes on on node B.
        with (
            run_server(node("b")) as node_b,
            openai.OpenAI(base_url=node_b.api, api_key=KEY_A, max_retries=0) as b,
        ):
            b.beta.threads.messages.create(thread.id, role="user", content="read it")
            second = b.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100
            )
            assert second.status == "completed", second.last_error
            logs = _logs(b, thread.id, second.id)
            assert "tide 7 False" in logs  # the file came along; the variable did not
            assert "The Python session was restarted" in logs
            assert b.files.content(made_id).content == b"tide 7"


def test_a_container_follows_to_another_node(
    sandbox_image: str, s3_url: str, fake: FakeUpstream, tmp_path: Path
) -> None:
    with fresh_postgres_database(_postgres()) as database:
        node = _nodes(database, s3_url, fake, tmp_path)
        fake.script(
            Turn(tool_calls=[_code("y = 1\nopen('/mnt/data/out.txt', 'w').write('made on a')")]),
            Turn(text="Written."),
            Turn(tool_calls=[_code("print(open('/mnt/data/in.txt').read(), 'y' in dir())")]),
            Turn(text="Read."),
        )
        with (
            run_server(node("a")) as node_a,
            openai.OpenAI(base_url=node_a.api, api_key=KEY_A, max_retries=0) as a,
        ):
            container = a.containers.create(name="work")
            upload = a.containers.files.create(container.id, file=("in.txt", b"sent to a"))
            tool: Any = {"type": "code_interpreter", "container": container.id}
            first = a.responses.create(model="gpt-4o", input="write", tools=[tool])
            assert first.status == "completed", first.error
            files = {f.path: f.id for f in a.containers.files.list(container.id)}
            assert set(files) == {"/mnt/data/in.txt", "/mnt/data/out.txt"}
        with (
            run_server(node("b")) as node_b,
            openai.OpenAI(base_url=node_b.api, api_key=KEY_A, max_retries=0) as b,
        ):
            out = b.containers.files.content.retrieve(
                files["/mnt/data/out.txt"], container_id=container.id
            )
            assert out.read() == b"made on a"  # served by B, which never ran that code
            second = b.responses.create(
                model="gpt-4o",
                input="read",
                tools=[tool],
                include=["code_interpreter_call.outputs"],
            )
            assert second.status == "completed", second.error
            logs = second.output[0].outputs[0].logs  # type: ignore[union-attr]
            assert "sent to a False" in logs and "The Python session was restarted" in logs
            assert upload.id == files["/mnt/data/in.txt"]
