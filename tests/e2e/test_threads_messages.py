"""Threads and messages through the official SDK against a real server."""

from __future__ import annotations

import io

import httpx
import openai
import pytest


def test_thread_lifecycle_with_seed_messages(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(
        messages=[
            {"role": "user", "content": "こんにちは", "metadata": {"n": "1"}},
            {"role": "assistant", "content": [{"type": "text", "text": "どうも"}]},
        ],
        metadata={"user": "u1"},
    )
    assert thread.id.startswith("thread_")
    assert thread.metadata == {"user": "u1"}
    assert thread.tool_resources is not None
    messages = list(client.beta.threads.messages.list(thread.id, order="asc"))
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[0].content[0].text.value == "こんにちは"  # type: ignore[union-attr]
    assert messages[0].metadata == {"n": "1"}
    assert messages[1].content[0].text.value == "どうも"  # type: ignore[union-attr]
    assert all(m.thread_id == thread.id and m.status == "completed" for m in messages)

    updated = client.beta.threads.update(thread.id, metadata={"user": "u2"})
    assert updated.metadata == {"user": "u2"}
    assert client.beta.threads.retrieve(thread.id).metadata == {"user": "u2"}

    deleted = client.beta.threads.delete(thread.id)
    assert (deleted.object, deleted.deleted) == ("thread.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve(thread.id)
    with pytest.raises(openai.NotFoundError):  # its messages went with it
        client.beta.threads.messages.retrieve(messages[0].id, thread_id=thread.id)


def test_message_create_retrieve_modify_delete(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    image = client.files.create(
        file=("pic.png", io.BytesIO(b"\x89PNG fake"), "image/png"), purpose="vision"
    )
    doc = client.files.create(file=("data.csv", io.BytesIO(b"a,b\n1,2\n")), purpose="assistants")
    message = client.beta.threads.messages.create(
        thread.id,
        role="user",
        content=[
            {"type": "text", "text": "look"},
            {"type": "image_file", "image_file": {"file_id": image.id, "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        ],
        attachments=[{"file_id": doc.id, "tools": [{"type": "code_interpreter"}]}],
    )
    assert message.id.startswith("msg_")
    assert [part.type for part in message.content] == ["text", "image_file", "image_url"]
    assert message.content[1].image_file.detail == "low"  # type: ignore[union-attr]
    assert message.attachments[0].file_id == doc.id  # type: ignore[index]
    assert message.assistant_id is None and message.run_id is None
    assert message.metadata == {}

    modified = client.beta.threads.messages.update(
        message.id, thread_id=thread.id, metadata={"k": "v"}
    )
    assert modified.metadata == {"k": "v"}
    assert modified.content == message.content
    fetched = client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)
    assert fetched.metadata == {"k": "v"}

    deleted = client.beta.threads.messages.delete(message.id, thread_id=thread.id)
    assert (deleted.object, deleted.deleted) == ("thread.message.deleted", True)
    assert list(client.beta.threads.messages.list(thread.id)) == []


def test_message_in_wrong_thread_is_not_found(client: openai.OpenAI) -> None:
    first = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    second = client.beta.threads.create()
    message = next(iter(client.beta.threads.messages.list(first.id)))
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.threads.messages.retrieve(message.id, thread_id=second.id)
    assert caught.value.body["message"] == f"No message found with id '{message.id}'."  # type: ignore[index]
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.threads.messages.create("thread_nope", role="user", content="x")
    assert caught.value.body["message"] == "No thread found with id 'thread_nope'."  # type: ignore[index]


def test_list_messages_by_run_id(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    assert list(client.beta.threads.messages.list(thread.id, run_id="run_none")) == []
    assert len(list(client.beta.threads.messages.list(thread.id))) == 1


def test_unknown_file_in_message_is_rejected_and_nothing_written(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.messages.create(
            thread.id,
            role="user",
            content="x",
            attachments=[{"file_id": "file-missing", "tools": [{"type": "file_search"}]}],
        )
    assert caught.value.param == "attachments[0].file_id"
    assert list(client.beta.threads.messages.list(thread.id)) == []


def test_thread_with_bad_seed_message_is_not_created(
    client: openai.OpenAI, http: httpx.Client
) -> None:
    before = http.get("/assistants").json()  # any read works; we check threads below by count
    assert before["object"] == "list"
    response = http.post(
        "/threads",
        json={
            "messages": [
                {"role": "user", "content": "ok"},
                {
                    "role": "user",
                    "content": "x",
                    "attachments": [{"file_id": "file-nope", "tools": []}],
                },
            ]
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[1].attachments[0].file_id"


def test_text_and_metadata_limits(http: httpx.Client) -> None:
    thread = http.post("/threads", json={}).json()
    too_long = http.post(
        f"/threads/{thread['id']}/messages", json={"role": "user", "content": "x" * 256_001}
    )
    assert too_long.status_code == 400
    assert too_long.json()["error"]["param"] == "content"
    metadata = {f"k{i}": "v" for i in range(17)}
    response = http.post("/threads", json={"metadata": metadata})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "metadata"
    response = http.post("/threads", json={"metadata": {"k" * 65: "v"}})
    assert response.json()["error"]["param"] == "metadata"
    response = http.post("/threads", json={"metadata": {"k": "v" * 513}})
    assert response.json()["error"]["param"] == "metadata"
    response = http.post(
        f"/threads/{thread['id']}/messages", json={"role": "system", "content": "x"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "role"
    response = http.post(f"/threads/{thread['id']}/messages", json={"role": "user", "content": []})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "content"
