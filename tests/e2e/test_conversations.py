"""/conversations and their items through the official SDK, validated against the spec."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import SpecChecked, async_sdk
from tests.support.server import RunningServer


def test_create_with_items_and_metadata(client: openai.OpenAI) -> None:
    conversation = client.conversations.create(
        metadata={"topic": "demo"},
        items=[
            {"type": "message", "role": "user", "content": "Hello!"},
            {"role": "assistant", "content": "Hi, how can I help?"},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Tell me a joke."}],
            },
        ],
    )
    assert conversation.id.startswith("conv_") and conversation.object == "conversation"
    assert conversation.metadata == {"topic": "demo"}
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [item.type for item in items] == ["message"] * 3
    assert [item.role for item in items] == ["user", "assistant", "user"]  # type: ignore[union-attr]
    first, second, third = items
    assert first.content[0].type == "input_text" and first.content[0].text == "Hello!"  # type: ignore[union-attr]
    assert second.content[0].type == "output_text"  # type: ignore[union-attr]
    assert third.content[0].text == "Tell me a joke."  # type: ignore[union-attr]
    assert all(item.status == "completed" and item.id.startswith("msg_") for item in items)  # type: ignore[union-attr]
    assert isinstance(client._client, SpecChecked)
    assert set(client._client.checked) == {"ConversationResource", "ConversationItemList"}


def test_retrieve_update_delete(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    assert conversation.metadata == {}
    assert client.conversations.retrieve(conversation.id) == conversation
    updated = client.conversations.update(conversation.id, metadata={"a": "1"})
    assert updated.metadata == {"a": "1"}
    assert client.conversations.retrieve(conversation.id).metadata == {"a": "1"}
    deleted = client.conversations.delete(conversation.id)
    assert deleted.id == conversation.id and deleted.deleted
    assert deleted.object == "conversation.deleted"
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(conversation.id)


def test_items_batch_retrieve_delete_and_pages(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    added = client.conversations.items.create(
        conversation.id,
        items=[{"type": "message", "role": "user", "content": f"message {n}"} for n in range(5)]
        + [
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "lookup",
                "arguments": '{"q": 1}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "42"},
        ],
    )
    assert len(added.data) == 7 and added.has_more is False
    assert added.first_id == added.data[0].id and added.last_id == added.data[-1].id
    call, output = added.data[5], added.data[6]
    assert call.type == "function_call" and call.id.startswith("fc_")  # type: ignore[union-attr]
    assert output.type == "function_call_output" and output.output == "42"  # type: ignore[union-attr]

    page = client.conversations.items.list(conversation.id, limit=3)  # newest first
    assert [item.id for item in page.data] == [item.id for item in reversed(added.data)][:3]
    assert page.has_more
    everything = [item.id for item in client.conversations.items.list(conversation.id, limit=2)]
    assert everything == [item.id for item in reversed(added.data)]
    after = client.conversations.items.list(conversation.id, order="asc", after=added.data[1].id)
    assert [item.id for item in after.data] == [item.id for item in added.data[2:]]

    fetched = client.conversations.items.retrieve(call.id, conversation_id=conversation.id)
    assert fetched == call
    remaining = client.conversations.items.delete(call.id, conversation_id=conversation.id)
    assert remaining.id == conversation.id and remaining.object == "conversation"
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(call.id, conversation_id=conversation.id)
    assert len(list(client.conversations.items.list(conversation.id))) == 6


def test_item_references_and_duplicates(client: openai.OpenAI) -> None:
    source = client.conversations.create(items=[{"role": "user", "content": "remember me"}])
    (original,) = client.conversations.items.list(source.id).data
    target = client.conversations.create(items=[{"type": "item_reference", "id": original.id}])
    (copied,) = client.conversations.items.list(target.id).data
    assert copied == original
    with pytest.raises(openai.BadRequestError) as caught:
        client.conversations.items.create(
            target.id, items=[{"type": "item_reference", "id": original.id}]
        )
    assert caught.value.body["param"] == "items[0].id"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as missing:
        client.conversations.items.create(
            target.id, items=[{"type": "item_reference", "id": "msg_nope"}]
        )
    assert missing.value.body["param"] == "items[0]"  # type: ignore[index]


def test_empty_list(client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    page = client.conversations.items.list(conversation.id)
    assert page.data == [] and page.has_more is False


def test_other_projects_see_nothing(client: openai.OpenAI, other_client: openai.OpenAI) -> None:
    conversation = client.conversations.create(items=[{"role": "user", "content": "secret"}])
    (item,) = client.conversations.items.list(conversation.id).data
    for attempt in (
        lambda: other_client.conversations.retrieve(conversation.id),
        lambda: other_client.conversations.update(conversation.id, metadata={}),
        lambda: other_client.conversations.delete(conversation.id),
        lambda: other_client.conversations.items.list(conversation.id),
        lambda: other_client.conversations.items.create(
            conversation.id, items=[{"role": "user", "content": "x"}]
        ),
        lambda: other_client.conversations.items.retrieve(item.id, conversation_id=conversation.id),
        lambda: other_client.conversations.items.delete(item.id, conversation_id=conversation.id),
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            attempt()
        assert caught.value.body == {  # exactly as for an id that never existed
            "message": f"No conversation found with id '{conversation.id}'.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    with pytest.raises(openai.BadRequestError):  # a reference can't reach across projects
        other_client.conversations.create(items=[{"type": "item_reference", "id": item.id}])
    assert client.conversations.retrieve(conversation.id).id == conversation.id


def _cached(breakpoint: dict[str, object]) -> dict[str, object]:
    return {"type": "input_text", "text": "x", "prompt_cache_breakpoint": breakpoint}


def test_a_prompt_cache_breakpoint_is_taken(http: httpx.Client) -> None:
    items = [{"role": "user", "content": [_cached({"mode": "explicit"})]}]
    response = http.post("/conversations", json={"items": items})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"metadata": {"k": "v" * 513}}, "metadata"),
        ({"items": [{"role": "robot", "content": "x"}]}, "items[0].role"),
        ({"items": [{"type": "function_call_output", "output": "x"}]}, "items[0].call_id"),
        ({"items": [{"role": "user", "content": "x"}] * 21}, "items"),
        ({"items": "hello"}, "items"),
        (
            {"items": [{"role": "user", "content": [_cached({})]}]},
            "items[0].content[0].prompt_cache_breakpoint.mode",
        ),
        (
            {"items": [{"type": "function_call_output", "call_id": "c", "output": [_cached({})]}]},
            "items[0].output[0].prompt_cache_breakpoint.mode",
        ),
        (
            {
                "items": [
                    {
                        "type": "function_call_output",
                        "call_id": "c",
                        "output": [{"type": "input_file", "file_url": "https://x", "detail": "A"}],
                    }
                ]
            },
            "items[0].output[0].detail",
        ),
    ],
)
def test_bad_bodies(http: httpx.Client, body: dict[str, object], param: str) -> None:
    response = http.post("/conversations", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_update_needs_metadata(http: httpx.Client) -> None:
    conversation = http.post("/conversations", json={}).json()
    response = http.post(f"/conversations/{conversation['id']}", json={})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_required_parameter"


async def test_async_client(server: RunningServer) -> None:
    async with async_sdk(server) as client:
        conversation = await client.conversations.create(items=[{"role": "user", "content": "hi"}])
        page = await client.conversations.items.list(conversation.id)
        assert [item.type for item in page.data] == ["message"]
        await client.conversations.delete(conversation.id)


def test_unknown_parameters_are_rejected(http: httpx.Client) -> None:
    response = http.post("/conversations", json={"metadata": {}, "colour": "blue"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_parameter"
    assert response.json()["error"]["param"] == "colour"


def test_sdk_output_items_are_taken_back_as_they_are(http: httpx.Client) -> None:
    # An output message as the SDK renders it (extra display keys included) is valid input.
    item = {
        "id": "msg_given",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [
            {"type": "output_text", "text": "{}", "annotations": [], "logprobs": [], "parsed": {}}
        ],
    }
    response = http.post("/conversations", json={"items": [item]})
    assert response.status_code == 200, response.text
    listed = http.get(f"/conversations/{response.json()['id']}/items").json()
    assert listed["data"][0]["id"] == "msg_given"
    assert "parsed" not in listed["data"][0]["content"][0]
