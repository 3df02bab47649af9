"""The v1 Assistants API (`OpenAI-Beta: assistants=v1`) from the same store as v2: v1 shapes
(validated against the v1 schemas), AssistantFiles and MessageFiles, file_ids mapped onto v2's
tool_resources and attachments, v1/v2 field checks, token-limited runs as v1 reports them."""

from __future__ import annotations

import io
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import KEY_A
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.server import RunningServer
from tests.support.spec_v1 import validate_v1

V1 = {"OpenAI-Beta": "assistants=v1"}


@pytest.fixture
def v1(server: RunningServer) -> Any:
    with httpx.Client(
        base_url=server.api,
        headers={"Authorization": f"Bearer {KEY_A}", **V1},
        timeout=30,
    ) as raw:
        yield raw


def ok(response: httpx.Response, schema: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    validate_v1(schema, body)
    return body


def test_v1_assistant_files_map_onto_tool_resources(
    v1: httpx.Client, client: openai.OpenAI
) -> None:
    notes = client.files.create(file=("notes.txt", io.BytesIO(b"tea notes")), purpose="assistants")
    data = client.files.create(file=("data.csv", io.BytesIO(b"a,b\n1,2\n")), purpose="assistants")
    made = ok(
        v1.post(
            "/assistants",
            json={
                "model": "gpt-4o",
                "name": "v1 helper",
                "tools": [{"type": "code_interpreter"}, {"type": "retrieval"}],
                "file_ids": [notes.id],
            },
        ),
        "AssistantObject",
    )
    assert made["file_ids"] == [notes.id]
    assert [tool["type"] for tool in made["tools"]] == ["code_interpreter", "retrieval"]
    # the same assistant through v2: equivalent tool_resources, its own store holds the file
    as_v2 = client.beta.assistants.retrieve(made["id"])
    assert [tool.type for tool in as_v2.tools] == ["code_interpreter", "file_search"]
    assert as_v2.tool_resources.code_interpreter.file_ids == [notes.id]
    (store_id,) = as_v2.tool_resources.file_search.vector_store_ids
    assert [f.id for f in client.vector_stores.files.list(store_id)] == [notes.id]

    # AssistantFile endpoints
    added = ok(
        v1.post(f"/assistants/{made['id']}/files", json={"file_id": data.id}), "AssistantFileObject"
    )
    assert added == {
        "id": data.id,
        "object": "assistant.file",
        "created_at": data.created_at,
        "assistant_id": made["id"],
    }
    listed = ok(
        v1.get(f"/assistants/{made['id']}/files", params={"order": "asc"}),
        "ListAssistantFilesResponse",
    )
    assert [f["id"] for f in listed["data"]] == [notes.id, data.id]
    page = ok(
        v1.get(f"/assistants/{made['id']}/files", params={"limit": 1}), "ListAssistantFilesResponse"
    )
    assert [f["id"] for f in page["data"]] == [data.id] and page["has_more"] is True
    after = v1.get(f"/assistants/{made['id']}/files", params={"limit": 1, "after": data.id}).json()
    assert [f["id"] for f in after["data"]] == [notes.id] and after["has_more"] is False
    ok(v1.get(f"/assistants/{made['id']}/files/{data.id}"), "AssistantFileObject")
    assert sorted(f.id for f in client.vector_stores.files.list(store_id)) == sorted(
        [notes.id, data.id]
    )
    deleted = v1.delete(f"/assistants/{made['id']}/files/{notes.id}").json()
    assert deleted == {"id": notes.id, "object": "assistant.file.deleted", "deleted": True}
    assert v1.get(f"/assistants/{made['id']}/files/{notes.id}").status_code == 404
    assert client.beta.assistants.retrieve(made["id"]).tool_resources.code_interpreter.file_ids == [
        data.id
    ]
    assert [f.id for f in client.vector_stores.files.list(store_id)] == [data.id]
    client.files.retrieve(notes.id)  # detaching never deletes the File
    # modify: file_ids replace, tools change
    modified = ok(
        v1.post(
            f"/assistants/{made['id']}",
            json={"file_ids": [notes.id], "tools": [{"type": "retrieval"}]},
        ),
        "AssistantObject",
    )
    assert modified["file_ids"] == [notes.id]
    assert [f.id for f in client.vector_stores.files.list(store_id)] == [notes.id]
    ok(v1.get("/assistants", params={"limit": 5}), "ListAssistantsResponse")
    # a v2-made assistant read through v1 shows what v1 can express
    v2_made = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}, {"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": [data.id]}},
    )
    seen = ok(v1.get(f"/assistants/{v2_made.id}"), "AssistantObject")
    assert seen["file_ids"] == [data.id] and seen["tools"][0] == {"type": "retrieval"}
    # unknown file, too many files
    missing = v1.post(f"/assistants/{made['id']}/files", json={"file_id": "file-nope"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "file_ids"
    many = v1.post("/assistants", json={"model": "gpt-4o", "file_ids": [data.id] * 21})
    assert many.status_code == 400 and many.json()["error"]["param"] == "file_ids"


def test_v1_and_v2_fields_are_checked_by_version(v1: httpx.Client, http: httpx.Client) -> None:
    def error(response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 400, response.text
        return response.json()["error"]  # type: ignore[no-any-return]

    assert (
        error(http.post("/assistants", json={"model": "gpt-4o", "file_ids": []}))["param"]
        == "file_ids"
    )
    thread = http.post("/threads", json={}).json()["id"]
    v2_message = http.post(
        f"/threads/{thread}/messages", json={"role": "user", "content": "x", "file_ids": ["f"]}
    )
    assert error(v2_message)["param"] == "file_ids"
    assert (
        error(http.post("/assistants", json={"model": "m", "tools": [{"type": "retrieval"}]}))[
            "param"
        ]
        == "tools[0].type"
    )
    found = error(v1.post("/assistants", json={"model": "gpt-4o", "tool_resources": {}}))
    assert (found["param"], found["code"]) == ("tool_resources", "unknown_parameter")
    assert (
        error(v1.post("/assistants", json={"model": "m", "tools": [{"type": "file_search"}]}))[
            "param"
        ]
        == "tools[0].type"
    )
    attachments = v1.post(
        f"/threads/{thread}/messages", json={"role": "user", "content": "x", "attachments": []}
    )
    assert error(attachments)["param"] == "attachments"
    parts = v1.post(
        f"/threads/{thread}/messages",
        json={"role": "user", "content": [{"type": "text", "text": "x"}]},
    )
    assert error(parts)["param"] == "content"
    assistant = v1.post("/assistants", json={"model": "gpt-4o"}).json()["id"]
    parallel = v1.post(
        f"/threads/{thread}/runs", json={"assistant_id": assistant, "parallel_tool_calls": False}
    )
    assert error(parallel)["param"] == "parallel_tool_calls"
    assert v1.delete(f"/threads/{thread}/messages/msg_x").status_code in (404, 405)  # not in v1


def test_v1_messages_threads_and_runs(
    v1: httpx.Client, client: openai.OpenAI, fake: FakeUpstream
) -> None:
    csv = client.files.create(
        file=("sales.csv", io.BytesIO(b"q,total\nQ1,3\n")), purpose="assistants"
    )
    thread = ok(
        v1.post(
            "/threads",
            json={
                "messages": [{"role": "user", "content": "Read this", "file_ids": [csv.id]}],
                "metadata": {"from": "v1"},
            },
        ),
        "ThreadObject",
    )
    messages = ok(v1.get(f"/threads/{thread['id']}/messages"), "ListMessagesResponse")
    (message,) = messages["data"]
    assert message["file_ids"] == [csv.id]
    as_v2 = client.beta.threads.messages.retrieve(message["id"], thread_id=thread["id"])
    assert [a.file_id for a in as_v2.attachments] == [csv.id]
    assert {t.type for t in as_v2.attachments[0].tools} == {"code_interpreter", "file_search"}
    files = ok(
        v1.get(f"/threads/{thread['id']}/messages/{message['id']}/files"),
        "ListMessageFilesResponse",
    )
    assert files["data"] == [
        {
            "id": csv.id,
            "object": "thread.message.file",
            "created_at": message["created_at"],
            "message_id": message["id"],
        }
    ]
    ok(
        v1.get(f"/threads/{thread['id']}/messages/{message['id']}/files/{csv.id}"),
        "MessageFileObject",
    )
    assert (
        v1.get(f"/threads/{thread['id']}/messages/{message['id']}/files/file-x").status_code == 404
    )
    ok(v1.post(f"/threads/{thread['id']}", json={"metadata": {"k": "v"}}), "ThreadObject")
    ok(v1.get("/threads", params={"metadata[k]": "v"}), "ListThreadsResponse")
    # a v2 thread with v2-only content reads through v1 without it
    v2_thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                    {"type": "text", "text": "hi"},
                ],
            }
        ]
    )
    shown = ok(v1.get(f"/threads/{v2_thread.id}/messages"), "ListMessagesResponse")
    assert [part["type"] for part in shown["data"][0]["content"]] == ["text"]

    assistant = v1.post(
        "/assistants",
        json={"model": "gpt-4o", "file_ids": [csv.id], "tools": [{"type": "code_interpreter"}]},
    ).json()
    # a token-limited run: v2 says incomplete, v1 says completed with incomplete_details
    fake.script(Turn(text="cut short here", finish_reason="length"))
    run = ok(
        v1.post(
            f"/threads/{thread['id']}/runs",
            json={"assistant_id": assistant["id"], "max_completion_tokens": 256},
        ),
        "RunObject",
    )
    assert run["file_ids"] == [csv.id]
    client.beta.threads.runs.poll(run["id"], thread_id=thread["id"])
    assert (
        client.beta.threads.runs.retrieve(run["id"], thread_id=thread["id"]).status == "incomplete"
    )
    shown_run = ok(v1.get(f"/threads/{thread['id']}/runs/{run['id']}"), "RunObject")
    assert shown_run["status"] == "completed"
    assert shown_run["incomplete_details"] == {"reason": "max_completion_tokens"}
    assert shown_run["completed_at"] is not None
    ok(v1.get(f"/threads/{thread['id']}/runs"), "ListRunsResponse")
    steps = ok(v1.get(f"/threads/{thread['id']}/runs/{run['id']}/steps"), "ListRunStepsResponse")
    ok(
        v1.get(f"/threads/{thread['id']}/runs/{run['id']}/steps/{steps['data'][0]['id']}"),
        "RunStepObject",
    )
    latest = ok(
        v1.get(f"/threads/{thread['id']}/messages", params={"limit": 1}), "ListMessagesResponse"
    )
    assert latest["data"][0]["content"][0]["text"]["value"] == "cut short here"


def test_v1_retrieval_store_is_made_only_for_files(v1: httpx.Client, client: openai.OpenAI) -> None:
    bare = ok(
        v1.post("/assistants", json={"model": "gpt-4o", "tools": [{"type": "retrieval"}]}),
        "AssistantObject",
    )
    assert bare["file_ids"] == []
    resources = client.beta.assistants.retrieve(bare["id"]).tool_resources
    assert resources is None or resources.file_search is None
    doc = client.files.create(file=("d.txt", io.BytesIO(b"doc")), purpose="assistants")
    ok(v1.post(f"/assistants/{bare['id']}/files", json={"file_id": doc.id}), "AssistantFileObject")
    (store_id,) = client.beta.assistants.retrieve(
        bare["id"]
    ).tool_resources.file_search.vector_store_ids
    assert client.vector_stores.retrieve(store_id).name == f"{bare['id']} files"
