"""The Responses API through the official SDK against the fake upstream, every JSON object and
stream event validated against the spec."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from assistantd import tokens
from tests.conftest import SpecChecked, async_sdk
from tests.fakes.upstream import DEFAULT_TEXT, Call, Fail, FakeUpstream, Turn
from tests.support.server import RunningServer
from tests.support.sse import post_stream, validate_response_events

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def test_text_response(client: openai.OpenAI, fake: FakeUpstream) -> None:
    response = client.responses.create(
        model="gpt-4o", input="Say hello", instructions="Be brief.", metadata={"k": "v"}
    )
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.error is None
    assert response.output_text == DEFAULT_TEXT
    (message,) = response.output
    assert message.type == "message" and message.role == "assistant"
    assert message.status == "completed" and message.id.startswith("msg_")
    assert response.instructions == "Be brief." and response.metadata == {"k": "v"}
    assert response.usage is not None
    assert response.usage.output_tokens == 5  # the fake's count: one per word
    assert response.usage.total_tokens == response.usage.input_tokens + 5
    assert fake.requests[-1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
    ]
    assert client.responses.retrieve(response.id) == response
    items = client.responses.input_items.list(response.id)
    assert [item.type for item in items.data] == ["message"]
    assert items.data[0].role == "user"  # type: ignore[union-attr]
    assert isinstance(client._client, SpecChecked)
    assert set(client._client.checked) == {"Response", "ResponseItemList"}

    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_every_stream_event_follows_the_spec(http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(Turn(text="one two"))
    events = post_stream(http, "/responses", {"model": "gpt-4o", "input": "count"})
    assert validate_response_events(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    created, done = events[0][1]["response"], events[-1][1]["response"]
    assert created["status"] == "in_progress" and created["output"] == []
    assert done["status"] == "completed" and done["output"][0]["content"][0]["text"] == "one two"
    assert http.get(f"/responses/{done['id']}").json() == done  # stored as streamed


def test_function_call_stream_events(http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(
        Turn(
            text="Checking.",
            tool_calls=[
                Call("get_weather", '{"city": "Paris"}', id="call_a"),
                Call("get_weather", '{"city": "Rome"}', id="call_b"),
            ],
            interleave=True,
        )
    )
    body = {"model": "gpt-4o", "input": "weather?", "tools": [WEATHER]}
    events = post_stream(http, "/responses", body)
    kinds = validate_response_events(events)
    assert kinds.count("response.output_item.added") == 3
    assert kinds.count("response.function_call_arguments.done") == 2
    final = events[-1][1]["response"]
    assert [item["type"] for item in final["output"]] == [
        "message",
        "function_call",
        "function_call",
    ]
    calls = final["output"][1:]
    assert [c["arguments"] for c in calls] == ['{"city": "Paris"}', '{"city": "Rome"}']
    assert [c["call_id"] for c in calls] == ["call_a", "call_b"]
    assert final["tools"][0]["name"] == "get_weather"


def test_stream_helper(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="streamed by the helper"))
    with client.responses.stream(model="gpt-4o", input="go") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "streamed by the helper"
    assert final.output_text == "streamed by the helper"
    assert client.responses.retrieve(final.id).output_text == "streamed by the helper"


class Person(BaseModel):
    name: str
    age: int


def test_parse_with_a_pydantic_text_format(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text='{"name": "Ada", "age": 36}'))
    parsed = client.responses.parse(model="gpt-4o", input="Who?", text_format=Person)
    assert parsed.output_parsed == Person(name="Ada", age=36)
    sent = fake.requests[-1]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Person"
    assert sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["schema"]["required"] == ["name", "age"]
    assert parsed.text.format.type == "json_schema"  # type: ignore[union-attr]


def test_stream_helper_with_text_format(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text='{"name": "Bo", "age": 7}'))
    with client.responses.stream(model="gpt-4o", input="Who?", text_format=Person) as stream:
        final = stream.get_final_response()
    assert final.output_parsed == Person(name="Bo", age=7)


def test_function_call_round_trip_through_previous_response_id(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    fake.script(
        Turn(tool_calls=[Call("get_weather", '{"city": "Paris"}', id="call_w")]),
        Turn(text="It is sunny in Paris."),
    )
    first = client.responses.create(
        model="gpt-4o", input="Weather in Paris?", tools=[WEATHER], tool_choice="required"
    )
    (call,) = first.output
    assert call.type == "function_call" and call.name == "get_weather"
    assert call.call_id == "call_w" and call.arguments == '{"city": "Paris"}'
    assert call.id.startswith("fc_") and call.status == "completed"
    assert fake.requests[-1]["tool_choice"] == "required"
    assert fake.requests[-1]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather in a city",
                "parameters": WEATHER["parameters"],
                "strict": True,
            },
        }
    ]
    second = client.responses.create(
        model="gpt-4o",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": "call_w", "output": "sunny"}],
        tools=[WEATHER],
    )
    assert second.output_text == "It is sunny in Paris."
    assert second.previous_response_id == first.id
    assert fake.requests[-1]["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_w",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_w", "content": "sunny"},
    ]
    third = client.responses.create(model="gpt-4o", previous_response_id=second.id, input="Thanks")
    assert len(fake.requests[-1]["messages"]) == 5 and third.status == "completed"
    # Output items sent back as input work too (the manual way of keeping state).
    fake.script(Turn(text="again"))
    manual = client.responses.create(
        model="gpt-4o",
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            *[item.model_dump() for item in first.output],
            {"type": "function_call_output", "call_id": "call_w", "output": "sunny"},
        ],
    )
    assert manual.output_text == "again"
    assert fake.requests[-1]["messages"] == fake.requests[-3]["messages"]


def test_function_call_round_trip_through_a_conversation(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    conversation = client.conversations.create(items=[{"role": "user", "content": "Hi, I'm Ada."}])
    fake.script(
        Turn(tool_calls=[Call("get_weather", '{"city": "Oslo"}', id="call_o")]),
        Turn(text="Cold in Oslo, Ada."),
    )
    first = client.responses.create(
        model="gpt-4o", conversation=conversation.id, input="Weather in Oslo?", tools=[WEATHER]
    )
    assert first.conversation is not None and first.conversation.id == conversation.id
    assert fake.requests[-1]["messages"][0] == {"role": "user", "content": "Hi, I'm Ada."}
    second = client.responses.create(
        model="gpt-4o",
        conversation={"id": conversation.id},
        input=[{"type": "function_call_output", "call_id": "call_o", "output": "-5C"}],
        tools=[WEATHER],
    )
    assert second.output_text == "Cold in Oslo, Ada."
    assert [m["role"] for m in fake.requests[-1]["messages"]] == [
        "user",
        "user",
        "assistant",
        "tool",
    ]
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [item.type for item in items] == [
        "message",
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert items[-1].id == second.output[0].id


def test_max_output_tokens_makes_it_incomplete(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="cut short", finish_reason="length"))
    response = client.responses.create(model="gpt-4o", input="long story", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"  # type: ignore[union-attr]
    assert response.max_output_tokens == 16
    assert fake.requests[-1]["max_tokens"] == 16


def test_incomplete_stream_ends_with_response_incomplete(
    http: httpx.Client, fake: FakeUpstream
) -> None:
    fake.script(Turn(text="cut", finish_reason="length"))
    events = post_stream(http, "/responses", {"model": "gpt-4o", "input": "x"})
    assert validate_response_events(events)[-1] == "response.incomplete"


def test_upstream_failure_makes_it_failed(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    fake.script(Fail(400, "context too long"))
    response = client.responses.create(model="gpt-4o", input="x")
    assert response.status == "failed"
    assert response.error is not None and response.error.code == "invalid_prompt"
    assert "context too long" in response.error.message
    fake.script(Fail(400, "context too long"))
    events = post_stream(http, "/responses", {"model": "gpt-4o", "input": "x"})
    assert validate_response_events(events)[-1] == "response.failed"


def test_a_stream_whose_model_call_is_retried_streams_one_answer(
    http: httpx.Client, fake: FakeUpstream
) -> None:
    """A stream starts once the model server took the request (or after a bound): a first
    attempt refused and retried still gives every event once, in order, with the answer."""
    fake.script(Fail(503), Turn(text="Hello there"))
    events = post_stream(http, "/responses", {"model": "gpt-4o", "input": "x"})
    names = validate_response_events(events)
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names[-1] == "response.completed"
    deltas = [data["delta"] for name, data in events if name == "response.output_text.delta"]
    assert "".join(deltas) == "Hello there"
    assert len(fake.requests) == 2


def test_sampling_and_formats_reach_the_upstream(client: openai.OpenAI, fake: FakeUpstream) -> None:
    response = client.responses.create(
        model="gpt-4o",
        input="x",
        temperature=0.2,
        top_p=0.9,
        text={"format": {"type": "json_object"}},
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
    )
    sent = fake.requests[-1]
    assert sent["temperature"] == 0.2 and sent["top_p"] == 0.9
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False
    assert response.temperature == 0.2 and response.top_p == 0.9
    assert response.parallel_tool_calls is False
    plain = client.responses.create(model="gpt-4o", input="x")
    assert set(fake.requests[-1]) == {"model", "messages", "stream", "stream_options"}
    assert plain.temperature == 1.0 and plain.tool_choice == "auto"


def test_store_false_is_not_kept(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4o", input="x", store=False)
    assert response.status == "completed"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="gpt-4o", input="y", previous_response_id=response.id)
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_input_tokens(client: openai.OpenAI) -> None:
    counted = client.responses.input_tokens.count(
        model="gpt-4o", input="How many tokens is this?", instructions="Be exact."
    )
    expected = tokens.count_messages(
        [
            {"role": "system", "content": "Be exact."},
            {"role": "user", "content": "How many tokens is this?"},
        ],
        "gpt-4o",
    )
    assert counted.input_tokens == expected and counted.object == "response.input_tokens"
    with_tools = client.responses.input_tokens.count(
        model="gpt-4o", input="How many tokens is this?", instructions="Be exact.", tools=[WEATHER]
    )
    assert with_tools.input_tokens > expected


def test_input_items_pages(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o", input=[{"role": "user", "content": f"part {n}"} for n in range(5)]
    )
    page = client.responses.input_items.list(response.id, limit=2, order="asc")
    assert [item.content[0].text for item in page.data] == ["part 0", "part 1"]  # type: ignore[union-attr]
    assert page.has_more
    everything = list(client.responses.input_items.list(response.id, limit=2))
    assert [item.content[0].text for item in everything] == [  # type: ignore[union-attr]
        f"part {n}" for n in reversed(range(5))
    ]


def test_other_projects_see_nothing(
    client: openai.OpenAI, other_client: openai.OpenAI, fake: FakeUpstream
) -> None:
    response = client.responses.create(model="gpt-4o", input="secret")
    missing = f"Response with id '{response.id}' not found."
    for attempt in (
        lambda: other_client.responses.retrieve(response.id),
        lambda: other_client.responses.delete(response.id),
        lambda: other_client.responses.input_items.list(response.id),
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            attempt()
        assert caught.value.body["message"] == missing  # type: ignore[index]
    with pytest.raises(openai.NotFoundError) as chained:
        other_client.responses.create(model="gpt-4o", input="x", previous_response_id=response.id)
    assert chained.value.body["message"] == (  # type: ignore[index]
        f"Previous response with id '{response.id}' not found."
    )
    conversation = client.conversations.create()
    with pytest.raises(openai.NotFoundError):
        other_client.responses.create(model="gpt-4o", input="x", conversation=conversation.id)
    assert client.responses.retrieve(response.id).id == response.id


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"input": "x"}, "model", "missing_required_parameter"),
        ({"model": "gpt-4o", "input": "x", "colour": 1}, "colour", "unknown_parameter"),
        ({"model": "gpt-4o", "input": "x", "temperature": 3}, "temperature", "above_max_value"),
        ({"model": "gpt-4o", "input": "x", "temperature": "1"}, "temperature", "invalid_type"),
        (
            {"model": "gpt-4o", "input": "x", "background": True, "store": False},
            "background",
            None,
        ),
        (
            {"model": "gpt-4o", "input": "x", "previous_response_id": "r", "conversation": "c"},
            "conversation",
            "mutually_exclusive_parameters",
        ),
        ({"model": "gpt-4o", "input": [{"role": "robot", "content": "x"}]}, "input[0].role", None),
        (
            {"model": "gpt-4o", "input": "x", "tools": [{"type": "function", "name": "a b"}]},
            "tools[0].name",
            None,
        ),
    ],
)
def test_bad_requests(
    http: httpx.Client, fake: FakeUpstream, body: dict[str, object], param: str, code: str | None
) -> None:
    response = http.post("/responses", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    if code is not None:
        assert error["code"] == code
    assert fake.requests == []


def test_unknown_conversation_and_cancel(http: httpx.Client) -> None:
    response = http.post(
        "/responses", json={"model": "gpt-4o", "input": "x", "conversation": "conv_nope"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "conversation"
    created = http.post("/responses", json={"model": "gpt-4o", "input": "x"}).json()
    cancel = http.post(f"/responses/{created['id']}/cancel")
    assert cancel.status_code == 400 and "background" in cancel.json()["error"]["message"]


async def test_async_client(server: RunningServer, fake: FakeUpstream) -> None:
    async with async_sdk(server) as client:
        response = await client.responses.create(model="gpt-4o", input="hi")
        assert response.output_text == DEFAULT_TEXT
        fake.script(Turn(text="async streamed"))
        stream = await client.responses.create(model="gpt-4o", input="hi", stream=True)
        kinds = [event.type async for event in stream]
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        fake.script(Turn(text='{"name": "Cy", "age": 1}'))
        parsed = await client.responses.parse(model="gpt-4o", input="?", text_format=Person)
        assert parsed.output_parsed == Person(name="Cy", age=1)
        async with client.responses.stream(model="gpt-4o", input="hi") as events:
            final = await events.get_final_response()
        assert final.output_text == DEFAULT_TEXT


def test_an_empty_answer_is_one_empty_text_part(http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(Turn(tokens=[]))
    events = post_stream(http, "/responses", {"model": "gpt-4o", "input": "x"})
    validate_response_events(events)
    final = events[-1][1]["response"]
    assert final["output"][0]["content"] == [
        {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    ]
    assert final["status"] == "completed"


def test_without_a_sandbox_the_code_interpreter_says_so(http: httpx.Client) -> None:
    tool = {"type": "code_interpreter", "container": {"type": "auto"}}
    response = http.post("/responses", json={"model": "gpt-4o", "input": "x", "tools": [tool]})
    assert response.status_code == 503
    assert "disabled" in response.json()["error"]["message"]
    created = http.post("/containers", json={"name": "x"})
    assert created.status_code == 503 and created.json()["error"]["type"] == "server_error"
    missing = http.get("/containers/cntr_nope")
    assert missing.status_code == 404


@pytest.mark.parametrize("truncation", ["disabled", "auto"])
def test_truncation_when_the_context_window_is_full(
    client: openai.OpenAI, fake: FakeUpstream, truncation: Any
) -> None:
    # gpt-4's window is 8,192 tokens; each input here is about 5,000 (one per word).
    first = client.responses.create(model="gpt-4", input="word " * 5000)
    long = "more " * 5000
    if truncation == "disabled":  # the default: too long is a 400, as OpenAI
        with pytest.raises(openai.BadRequestError) as error:
            client.responses.create(model="gpt-4", input=long, previous_response_id=first.id)
        assert error.value.code == "context_length_exceeded" and error.value.param == "input"
        return
    response = client.responses.create(
        model="gpt-4", input=long, previous_response_id=first.id, truncation="auto"
    )
    assert response.status == "completed" and response.truncation == "auto"
    sent = fake.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["assistant", "user"]  # the oldest input was dropped
    assert sent[-1]["content"] == long and "word" not in str(sent)
