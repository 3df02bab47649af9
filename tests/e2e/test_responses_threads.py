"""Extensions, one store with two faces: an Assistants thread continued as a conversation of
the Responses API, and a response taking an assistant's settings through `prompt`."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import openai
import pytest

from tests.fakes.upstream import Call, FakeUpstream, Turn


def test_a_thread_continued_as_a_conversation(client: openai.OpenAI, fake: FakeUpstream) -> None:
    thread = client.beta.threads.create(
        messages=[
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Nice to meet you, Ada."},
        ]
    )
    fake.script(Turn(text="Your name is Ada."))
    response = client.responses.create(
        model="gpt-4o", conversation=thread.id, input="What is my name?"
    )
    assert response.output_text == "Your name is Ada."
    assert response.conversation is not None and response.conversation.id == thread.id
    assert fake.requests[-1]["messages"] == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": "What is my name?"},
    ]
    # The Assistants side sees the exchange as messages of the thread.
    messages = client.beta.threads.messages.list(thread.id, order="asc").data
    assert [(m.role, m.content[0].text.value) for m in messages] == [  # type: ignore[union-attr]
        ("user", "My name is Ada."),
        ("assistant", "Nice to meet you, Ada."),
        ("user", "What is my name?"),
        ("assistant", "Your name is Ada."),
    ]
    # And the Responses side reads the thread through /conversations.
    conversation = client.conversations.retrieve(thread.id)
    assert conversation.id == thread.id and conversation.created_at == thread.created_at
    items = client.conversations.items.list(thread.id, order="asc", limit=3)
    assert [item.id for item in items.data] == [m.id for m in messages[:3]]
    assert items.has_more and items.data[0].type == "message"
    last = client.conversations.items.list(thread.id, after=items.data[-1].id, order="asc")
    (answer,) = last.data
    assert answer.type == "message" and answer.role == "assistant"
    assert answer.content[0].text == "Your name is Ada."  # type: ignore[union-attr]
    assert client.conversations.items.retrieve(answer.id, conversation_id=thread.id) == answer


def test_the_threads_tool_resources_are_honoured(client: openai.OpenAI, fake: FakeUpstream) -> None:
    tea = client.files.create(
        file=("tea.txt", io.BytesIO(b"Matcha is a powdered green tea from Japan.")),
        purpose="assistants",
    )
    thread = client.beta.threads.create(
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [tea.id]}]}}
    )
    store_id = thread.tool_resources.file_search.vector_store_ids[0]  # type: ignore[union-attr]
    deadline = time.monotonic() + 30
    while client.vector_stores.retrieve(store_id).file_counts.in_progress:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    fake.script(
        Turn(tool_calls=[Call("file_search", json.dumps({"queries": ["matcha"]}))]),
        Turn(text="Powdered green tea 【0:0†tea.txt】."),
    )
    response = client.responses.create(
        model="gpt-4o",
        conversation=thread.id,
        input="What is matcha?",
        tools=[{"type": "file_search"}],  # the stores come from the thread
        include=["file_search_call.results"],
    )
    search = response.output[0]
    assert search.type == "file_search_call"
    assert search.results and search.results[0].file_id == tea.id
    assert response.tools[0].vector_store_ids == [store_id]  # type: ignore[union-attr]


def test_another_projects_thread_is_not_a_conversation(
    client: openai.OpenAI, other_client: openai.OpenAI, fake: FakeUpstream
) -> None:
    thread = client.beta.threads.create()
    with pytest.raises(openai.NotFoundError) as caught:
        other_client.responses.create(model="gpt-4o", conversation=thread.id, input="x")
    assert caught.value.body["message"] == f"No conversation found with id '{thread.id}'."  # type: ignore[index]
    assert fake.requests == []


def test_a_response_takes_an_assistants_settings_through_prompt(
    client: openai.OpenAI, other_client: openai.OpenAI, fake: FakeUpstream
) -> None:
    tea = client.files.create(
        file=("tea.txt", io.BytesIO(b"Matcha is a powdered green tea.")), purpose="assistants"
    )
    store = client.vector_stores.create(file_ids=[tea.id])
    weather: Any = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
    assistant = client.beta.assistants.create(
        model="gpt-4o-mini",
        instructions="You are {{persona}}.",
        tools=[weather, {"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        temperature=0.3,
    )
    response = client.responses.create(
        prompt={"id": assistant.id, "variables": {"persona": "a tea expert"}},
        input="What is matcha?",
        instructions="Answer in one line.",
    )
    assert response.status == "completed" and response.model == "gpt-4o-mini"
    assert response.prompt is not None and response.prompt.id == assistant.id
    assert response.instructions == "You are a tea expert.\n\nAnswer in one line."
    assert [tool.type for tool in response.tools] == ["function", "file_search"]
    assert response.tools[1].vector_store_ids == [store.id]  # type: ignore[union-attr]
    sent = fake.requests[-1]
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0.3
    assert sent["messages"][0] == {"role": "system", "content": response.instructions}
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather", "file_search"]

    # What the request gives wins: its model and temperature.
    again = client.responses.create(
        prompt={"id": assistant.id}, model="gpt-4o", temperature=1.5, input="hi"
    )
    assert again.model == "gpt-4o" and fake.requests[-1]["temperature"] == 1.5
    assert again.instructions == "You are {{persona}}."  # no value given: kept as written

    for prompt, where in (({"id": "pmpt_123"}, client), ({"id": assistant.id}, other_client)):
        with pytest.raises(openai.BadRequestError) as bad:
            where.responses.create(prompt=prompt, input="hi")  # type: ignore[arg-type]
        assert bad.value.param == "prompt.id"
    with pytest.raises(openai.BadRequestError) as no_model:
        client.responses.create(input="hi")
    assert no_model.value.param == "model"
