"""Assistants through the official SDK against a real server."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import SpecChecked

FUNCTION = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_create_retrieve_modify_delete(client: openai.OpenAI) -> None:
    created = client.beta.assistants.create(
        model="gpt-4o",
        name="kansai ben",
        instructions="関西弁で話して",
        tools=[{"type": "code_interpreter"}, {"type": "file_search"}, FUNCTION],
        metadata={"team": "a"},
        temperature=0.5,
        top_p=0.9,
        response_format={"type": "json_object"},
        reasoning_effort="low",
    )
    assert created.id.startswith("asst_")
    assert created.object == "assistant"
    assert [tool.type for tool in created.tools] == ["code_interpreter", "file_search", "function"]
    assert created.metadata == {"team": "a"}
    assert created.temperature == 0.5 and created.top_p == 0.9
    assert created.response_format.type == "json_object"  # type: ignore[union-attr]

    fetched = client.beta.assistants.retrieve(created.id)
    assert fetched == created

    modified = client.beta.assistants.update(
        created.id, name="renamed", tools=[], metadata={"team": "b"}
    )
    assert modified.name == "renamed"
    assert modified.tools == []
    assert modified.metadata == {"team": "b"}
    assert modified.instructions == "関西弁で話して"  # untouched fields are kept

    deleted = client.beta.assistants.delete(created.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (created.id, "assistant.deleted", True)
    with pytest.raises(openai.NotFoundError) as caught:
        client.beta.assistants.retrieve(created.id)
    assert caught.value.body["message"] == f"No assistant found with id '{created.id}'."  # type: ignore[index]


def test_defaults_are_explicit(client: openai.OpenAI) -> None:
    created = client.beta.assistants.create(model="gpt-4o-mini")
    raw = client.beta.assistants.with_raw_response.retrieve(created.id).http_response.json()
    assert raw["name"] is None and raw["description"] is None and raw["instructions"] is None
    assert raw["metadata"] == {} and raw["tools"] == []
    assert raw["temperature"] == 1.0 and raw["top_p"] == 1.0 and raw["response_format"] == "auto"
    assert isinstance(raw["created_at"], int)


def test_every_response_was_checked_against_the_spec(client: openai.OpenAI) -> None:
    client.beta.assistants.create(model="gpt-4o")
    list(client.beta.assistants.list())
    http_client = client._client
    assert isinstance(http_client, SpecChecked)
    assert http_client.checked == ["AssistantObject", "ListAssistantsResponse"]
