"""Containers and the code_interpreter tool of responses, end to end: the official SDK, a real
server, the fake model calling `code_interpreter`, the real Docker sandbox running the code."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import KEY_A, KEY_B, SpecChecked, make_settings
from tests.docker.conftest import IMAGE_TAG
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.server import RunningServer, run_server
from tests.support.sse import post_stream, validate_response_events

pytestmark = pytest.mark.docker

CODE = (
    "rows = open('/mnt/data/data.csv').read().splitlines()\n"
    "print('rows:', len(rows))\n"
    "open('/mnt/data/out.txt', 'w').write('total=' + str(len(rows)))\n"
)


@pytest.fixture(scope="module")
def box_server(
    sandbox_image: str, tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeUpstream
) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("responses-box")
    settings = make_settings(
        data_dir,
        f"sqlite+aiosqlite:///{data_dir / 'db.sqlite'}",
        upstream_base_url=fake_upstream.base_url,
        sandbox_enabled=True,
        sandbox_image=IMAGE_TAG,
        sandbox_instance="pytest-responses",
        sandbox_pool_size=1,
        sandbox_exec_timeout_s=30.0,
    )
    with run_server(settings) as server:
        yield server


@pytest.fixture
def box(box_server: RunningServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=box_server.api, api_key=KEY_A, max_retries=0, http_client=SpecChecked()
    ) as client:
        yield client


def _csv(client: openai.OpenAI) -> str:
    data = io.BytesIO(b"a,b\n1,2\n3,4\n")
    return client.files.create(file=("data.csv", data), purpose="assistants").id


def test_containers_and_their_files(box: openai.OpenAI, box_server: RunningServer) -> None:
    container = box.containers.create(name="work", file_ids=[_csv(box)])
    assert container.id.startswith("cntr_") and container.status == "running"
    assert container.expires_after is not None and container.expires_after.minutes == 20
    assert box.containers.retrieve(container.id).name == "work"
    assert container.id in [c.id for c in box.containers.list()]
    (staged,) = box.containers.files.list(container.id).data
    assert staged.path == "/mnt/data/data.csv" and staged.source == "user"
    assert staged.bytes == 12
    content = box.containers.files.content.retrieve(staged.id, container_id=container.id)
    assert content.read() == b"a,b\n1,2\n3,4\n"
    uploaded = box.containers.files.create(container.id, file=("notes.txt", io.BytesIO(b"hello")))
    assert uploaded.path == "/mnt/data/notes.txt"
    fetched = box.containers.files.retrieve(uploaded.id, container_id=container.id)
    assert fetched.model_dump() == uploaded.model_dump()
    box.containers.files.delete(uploaded.id, container_id=container.id)
    assert [f.id for f in box.containers.files.list(container.id).data] == [staged.id]
    with openai.OpenAI(base_url=box_server.api, api_key=KEY_B, max_retries=0) as other:
        with pytest.raises(openai.NotFoundError):
            other.containers.retrieve(container.id)
        with pytest.raises(openai.NotFoundError):
            other.containers.files.list(container.id)
        assert container.id not in [c.id for c in other.containers.list()]
    box.containers.delete(container.id)
    with pytest.raises(openai.NotFoundError):
        box.containers.retrieve(container.id)
    assert isinstance(box._client, SpecChecked)
    assert {"ContainerResource", "ContainerFileResource", "ContainerListResource"} <= set(
        box._client.checked
    )


def test_code_interpreter_file_in_and_file_out(box: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(
        Turn(tool_calls=[Call("code_interpreter", json.dumps({"code": CODE}))]),
        Turn(text="Done: [out.txt](sandbox:/mnt/data/out.txt)"),
    )
    response = box.responses.create(
        model="gpt-4o",
        input="Count the rows of data.csv",
        tools=[
            {"type": "code_interpreter", "container": {"type": "auto", "file_ids": [_csv(box)]}}
        ],
        include=["code_interpreter_call.outputs"],
    )
    assert response.status == "completed", response.error
    call, message = response.output
    assert call.type == "code_interpreter_call" and call.status == "completed"
    assert call.code == CODE and call.container_id.startswith("cntr_")
    assert call.outputs is not None and "rows: 3" in call.outputs[0].logs  # type: ignore[union-attr]
    assert "rows: 3" in fake.requests[-1]["messages"][-1]["content"]  # the model read the logs
    (annotation,) = message.content[0].annotations  # type: ignore[union-attr]
    assert annotation.type == "container_file_citation"
    assert annotation.container_id == call.container_id and annotation.filename == "out.txt"
    text = response.output_text
    assert text[annotation.start_index : annotation.end_index] == "sandbox:/mnt/data/out.txt"
    out = box.containers.files.content.retrieve(annotation.file_id, container_id=call.container_id)
    assert out.read() == b"total=3"
    made = box.containers.files.retrieve(annotation.file_id, container_id=call.container_id)
    assert made.source == "assistant" and made.path == "/mnt/data/out.txt"

    # The chain keeps its container: variables and files are still there.
    fake.script(
        Turn(tool_calls=[Call("code_interpreter", json.dumps({"code": "print(len(rows))"}))]),
        Turn(text="Still 3."),
    )
    again = box.responses.create(
        model="gpt-4o",
        previous_response_id=response.id,
        input="And again?",
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        include=["code_interpreter_call.outputs"],
    )
    second = again.output[0]
    assert second.type == "code_interpreter_call"
    assert second.container_id == call.container_id
    assert second.outputs is not None and second.outputs[0].logs.strip() == "3"  # type: ignore[union-attr]


def test_code_interpreter_stream_events(
    box: openai.OpenAI, box_server: RunningServer, fake: FakeUpstream
) -> None:
    container = box.containers.create(name="explicit")
    fake.script(
        Turn(tool_calls=[Call("code_interpreter", json.dumps({"code": "print(6 * 7)"}))]),
        Turn(text="42"),
    )
    body = {
        "model": "gpt-4o",
        "input": "6 times 7?",
        "tools": [{"type": "code_interpreter", "container": container.id}],
        "include": ["code_interpreter_call.outputs"],
    }
    with httpx.Client(
        base_url=box_server.api, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=60
    ) as http:
        events = post_stream(http, "/responses", body)
    kinds = validate_response_events(events)
    assert kinds[2:10] == [
        "response.output_item.added",
        "response.code_interpreter_call.in_progress",
        "response.code_interpreter_call_code.delta",
        "response.code_interpreter_call_code.done",
        "response.code_interpreter_call.interpreting",
        "response.code_interpreter_call.completed",
        "response.output_item.done",
        "response.output_item.added",
    ]
    final = events[-1][1]["response"]
    assert final["output"][0]["container_id"] == container.id
    assert final["output"][0]["outputs"] == [{"type": "logs", "logs": "42\n"}]
    assert final["output"][1]["content"][0]["text"] == "42"


def test_an_idle_container_expires_and_is_reaped(
    box: openai.OpenAI, box_server: RunningServer
) -> None:
    container = box.containers.create(name="idle", file_ids=[_csv(box)])
    (staged,) = box.containers.files.list(container.id).data
    # Idle for 21 minutes, as if: last_active_at moved back in the database.
    with sqlite3.connect(box_server.settings.data_dir / "db.sqlite") as db:
        db.execute(
            "UPDATE containers SET body = json_set(body, '$.last_active_at', ?) WHERE id = ?",
            (container.last_active_at - 21 * 60, container.id),
        )
    assert box.containers.retrieve(container.id).status == "expired"  # at once
    listed = {c.id: c.status for c in box.containers.list()}
    assert listed[container.id] == "expired"
    with pytest.raises(openai.BadRequestError) as upload:
        box.containers.files.create(container.id, file=("late.txt", io.BytesIO(b"x")))
    assert upload.value.code == "container_expired"
    with pytest.raises(openai.BadRequestError) as use:
        box.responses.create(
            model="gpt-4o",
            input="run",
            tools=[{"type": "code_interpreter", "container": container.id}],
        )
    assert use.value.code == "container_expired" and use.value.param == "tools[0].container"

    # The sweep marks it expired in the store and closes its sandbox: its files are gone.
    deadline = time.monotonic() + 30
    while True:
        with sqlite3.connect(box_server.settings.data_dir / "db.sqlite") as db:
            (body,) = db.execute(
                "SELECT body FROM containers WHERE id = ?", (container.id,)
            ).fetchone()
        if json.loads(body)["status"] == "expired":
            break
        assert time.monotonic() < deadline, "the expired container was not reaped"
        time.sleep(0.5)
    with pytest.raises(openai.NotFoundError):
        box.containers.files.content.retrieve(staged.id, container_id=container.id)
