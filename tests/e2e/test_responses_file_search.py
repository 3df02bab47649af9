"""The file_search tool of responses over an existing vector store: `file_search_call` items
with their events, passages with markers for the model, `file_citation` annotations."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.sse import post_stream, validate_response_events

TEA = (
    "Green tea is made from unoxidised leaves. Matcha is a powdered green tea from Japan, "
    "whisked with hot water in the tea ceremony."
)
RUST = "Rust is a systems programming language; ownership and borrowing prevent data races."


def _store(client: openai.OpenAI) -> tuple[str, str]:
    tea = client.files.create(file=("tea.txt", io.BytesIO(TEA.encode())), purpose="assistants")
    rust = client.files.create(file=("rust.txt", io.BytesIO(RUST.encode())), purpose="assistants")
    store = client.vector_stores.create(file_ids=[tea.id, rust.id])
    deadline = time.monotonic() + 30
    while client.vector_stores.retrieve(store.id).file_counts.in_progress:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return store.id, tea.id


def _search(query: str) -> Call:
    return Call("file_search", json.dumps({"queries": [query]}))


def test_file_search_cites_the_right_file(client: openai.OpenAI, fake: FakeUpstream) -> None:
    store_id, tea_id = _store(client)
    fake.script(
        Turn(tool_calls=[_search("What is matcha?")]),
        Turn(text="Matcha is powdered green tea 【0:0†tea.txt】."),
    )
    response = client.responses.create(
        model="gpt-4o",
        input="What is matcha?",
        tools=[{"type": "file_search", "vector_store_ids": [store_id], "max_num_results": 5}],
        include=["file_search_call.results"],
    )
    assert response.status == "completed"
    search, message = response.output
    assert search.type == "file_search_call" and search.status == "completed"
    assert search.queries == ["What is matcha?"] and search.id.startswith("fs_")
    assert search.results is not None and search.results[0].file_id == tea_id
    assert search.results[0].filename == "tea.txt" and "Matcha" in (search.results[0].text or "")
    assert message.type == "message"
    (annotation,) = message.content[0].annotations  # type: ignore[union-attr]
    assert annotation.type == "file_citation" and annotation.file_id == tea_id
    assert annotation.filename == "tea.txt"
    assert response.output_text[annotation.index :].startswith("【0:0†tea.txt】")  # type: ignore[union-attr]
    # The model was offered the tool, then got the passages with their markers.
    first, second = fake.requests[-2:]
    assert [tool["function"]["name"] for tool in first["tools"]] == ["file_search"]
    tool_result = second["messages"][-1]
    assert tool_result["role"] == "tool" and "【0:0†tea.txt】" in tool_result["content"]
    assert response.usage is not None
    assert response.usage.output_tokens == 4 + 6  # both model calls (the fake counts chunks)
    assert response.tools[0].type == "file_search"

    # The search stays in the chain: a follow-up sees it and can cite it again.
    fake.script(Turn(text="As said, 【0:0†tea.txt】."))
    follow = client.responses.create(
        model="gpt-4o", previous_response_id=response.id, input="Say it again.", tools=[]
    )
    assert [m["role"] for m in fake.requests[-1]["messages"]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert follow.output_text == "As said, 【0:0†tea.txt】."

    # The results are shown only when included (as OpenAI), and always kept.
    assert client.responses.retrieve(response.id).output[0].results is None  # type: ignore[union-attr]
    again = client.responses.retrieve(response.id, include=["file_search_call.results"])
    assert again.output[0].results == search.results  # type: ignore[union-attr]


def test_results_in_a_conversation_only_when_included(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    store_id, tea_id = _store(client)
    conversation = client.conversations.create()
    fake.script(Turn(tool_calls=[_search("matcha")]), Turn(text="Powdered tea."))
    tools: Any = [{"type": "file_search", "vector_store_ids": [store_id]}]
    events = post_stream(
        http,
        "/responses",
        {"model": "gpt-4o", "input": "matcha?", "tools": tools, "conversation": conversation.id},
    )
    done = [e for name, e in events if name == "response.output_item.done"]
    assert done[0]["item"]["type"] == "file_search_call" and done[0]["item"]["results"] is None
    assert events[-1][1]["response"]["output"][0]["results"] is None

    items = client.conversations.items.list(conversation.id).data
    search = next(i for i in items if i.type == "file_search_call")
    assert search.results is None  # type: ignore[union-attr]
    included = client.conversations.items.list(
        conversation.id, include=["file_search_call.results"]
    ).data
    search = next(i for i in included if i.type == "file_search_call")
    assert search.results and search.results[0].file_id == tea_id  # type: ignore[union-attr]
    one = client.conversations.items.retrieve(
        search.id, conversation_id=conversation.id, include=["file_search_call.results"]
    )
    assert one.results == search.results  # type: ignore[union-attr]

    bad = http.get(f"/conversations/{conversation.id}/items", params={"include[]": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "include[0]"
    bad = http.post("/responses", json={"model": "gpt-4o", "input": "x", "include": ["x"]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "include[0]"


def test_file_search_stream_events(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    store_id, _tea = _store(client)
    fake.script(
        Turn(tool_calls=[_search("matcha")]),
        Turn(text="Powdered 【0:0†tea.txt】"),
    )
    body = {
        "model": "gpt-4o",
        "input": "What is matcha?",
        "tools": [{"type": "file_search", "vector_store_ids": [store_id]}],
    }
    kinds = validate_response_events(post_stream(http, "/responses", body))
    assert kinds[:7] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.output_item.done",
    ]
    assert "response.output_text.annotation.added" in kinds
    assert kinds[-1] == "response.completed"
    # The SDK's stream helper takes the same events.
    fake.script(Turn(tool_calls=[_search("matcha")]), Turn(text="Powdered 【0:0†tea.txt】"))
    with client.responses.stream(
        model="gpt-4o",
        input="What is matcha?",
        tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
    ) as stream:
        final = stream.get_final_response()
    assert [item.type for item in final.output] == ["file_search_call", "message"]


def test_file_search_needs_stores_of_the_project(
    client: openai.OpenAI, other_client: openai.OpenAI, fake: FakeUpstream
) -> None:
    store_id, _tea = _store(client)
    for caller, store in ((client, "vs_nope"), (other_client, store_id)):
        with pytest.raises(openai.NotFoundError) as caught:
            caller.responses.create(
                model="gpt-4o",
                input="x",
                tools=[{"type": "file_search", "vector_store_ids": [store]}],
            )
        assert caught.value.body["message"] == f"No vector store found with id '{store}'."  # type: ignore[index]
    assert fake.requests == []


def test_max_tool_calls_ignores_the_calls_past_it(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    store_id, _ = _store(client)
    fake.script(
        Turn(tool_calls=[_search("matcha"), _search("rust")]),
        Turn(text="Done."),
    )
    response = client.responses.create(
        model="gpt-4o",
        input="Search twice.",
        tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
        max_tool_calls=1,
    )
    assert response.status == "completed" and response.max_tool_calls == 1
    assert [item.type for item in response.output] == ["file_search_call", "message"]
    assert response.output[0].queries == ["matcha"]  # type: ignore[union-attr]
    last = fake.requests[-1]
    assert "tools" not in last and "tool_choice" not in last  # no tool offered any more
    calls = [m for m in last["messages"] if m.get("tool_calls")]
    assert [len(m["tool_calls"]) for m in calls] == [1]  # the ignored call is not shown
