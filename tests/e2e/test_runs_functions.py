"""Function calling end to end: requires_action, submits (good and bad), parallel calls, and
what the upstream receives for tool_choice, response_format and sampling overrides."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.e2e.test_runs_stream import Recorder
from tests.fakes.upstream import Call, FakeUpstream, Turn

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME: dict[str, Any] = {"type": "function", "function": {"name": "get_time"}}


def _waiting_run(client: openai.OpenAI, fake: FakeUpstream, *calls: Call) -> Any:
    fake.script(Turn(tool_calls=list(calls)), Turn(text="It is sunny."))
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER, TIME])  # type: ignore[list-item]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action" and run.required_action is not None
    return run


def test_function_round_trip_replays_calls(client: openai.OpenAI, fake: FakeUpstream) -> None:
    run = _waiting_run(client, fake, Call("get_weather", '{"city": "Paris"}', id="call_w"))
    [call] = run.required_action.submit_tool_outputs.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_w",
        "get_weather",
        '{"city": "Paris"}',
    )
    handler = Recorder()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=run.thread_id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": "call_w", "output": "22C sunny"}],
        event_handler=handler,
    ) as stream:
        stream.until_done()
    events = handler.names("event")
    assert events[:3] == [
        "thread.run.step.completed",
        "thread.run.queued",
        "thread.run.in_progress",
    ]
    assert events[-1] == "thread.run.completed"
    assert handler.names("text_done") == ["It is sunny."]
    steps = list(client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id, order="asc"))
    tool_step = next(s for s in steps if s.type == "tool_calls")
    assert tool_step.status == "completed"
    assert tool_step.step_details.tool_calls[0].function.output == "22C sunny"  # type: ignore[union-attr]
    replay = fake.requests[1]["messages"]
    assert replay[-2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_w",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert replay[-1] == {"role": "tool", "tool_call_id": "call_w", "content": "22C sunny"}
    assert fake.requests[1]["tools"][0]["function"]["name"] == "get_weather"


def test_parallel_calls(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(
        Turn(
            tool_calls=[Call("get_weather", '{"city": "Oslo"}'), Call("get_time", "{}")],
            interleave=True,
        )
    )
    run = _waiting_run(client, fake)
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert len({c.id for c in calls}) == 2
    assert calls[0].function.arguments == '{"city": "Oslo"}'
    [step] = [
        s
        for s in client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id)
        if s.type == "tool_calls"
    ]
    assert step.status == "in_progress" and len(step.step_details.tool_calls) == 2  # type: ignore[union-attr]
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=run.thread_id,
        tool_outputs=[{"tool_call_id": c.id, "output": f"out{i}"} for i, c in enumerate(calls)],
    )
    assert done.status == "completed"
    tool_messages = [m for m in fake.requests[-1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == [c.id for c in calls]


def test_streamed_parallel_call_indices(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    from tests.support.sse import post_stream, validate_events

    fake.script(Turn(tool_calls=[Call("get_weather", '{"city": "Rome"}'), Call("get_time")]))
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER, TIME])  # type: ignore[list-item]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "x"}])
    events = post_stream(http, f"/threads/{thread.id}/runs", {"assistant_id": assistant.id})
    validate_events(events)
    indices = {
        entry["index"]
        for name, data in events
        if name == "thread.run.step.delta"
        for entry in data["delta"]["step_details"]["tool_calls"]
    }
    assert indices == {0, 1}
    step_ids = {d["id"] for n, d in events if n == "thread.run.step.delta"}
    assert len(step_ids) == 1


def test_bad_submits(client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream) -> None:
    run = _waiting_run(
        client, fake, Call("get_weather", "{}", id="call_1"), Call("get_time", "{}", id="call_2")
    )
    path = f"/threads/{run.thread_id}/runs/{run.id}/submit_tool_outputs"
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([{"tool_call_id": "call_1", "output": "a"}], "tool_outputs"),  # missing one
        (
            [{"output": "a"}, {"tool_call_id": "call_2", "output": "b"}],
            "tool_outputs[0].tool_call_id",
        ),
        ([{"tool_call_id": "call_x", "output": "a"}], "tool_outputs[0].tool_call_id"),
        (
            [
                {"tool_call_id": "call_1", "output": "a"},
                {"tool_call_id": "call_1", "output": "a"},
                {"tool_call_id": "call_2", "output": "b"},
            ],
            "tool_outputs[1].tool_call_id",
        ),
    ]
    for outputs, param in cases:
        response = http.post(path, json={"tool_outputs": outputs})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["param"] == param and error["type"] == "invalid_request_error", error
    assert (
        client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id).status
        == "requires_action"
    )
    good = [{"tool_call_id": "call_1", "output": "a"}, {"tool_call_id": "call_2", "output": "b"}]
    assert http.post(path, json={"tool_outputs": good}).status_code == 200
    client.beta.threads.runs.poll(run.id, thread_id=run.thread_id)
    response = http.post(path, json={"tool_outputs": good})  # no longer requires_action
    assert response.status_code == 400
    assert "param" in response.json()["error"]


@pytest.mark.parametrize(
    ("tool_choice", "sent"),
    [
        ("none", "none"),
        ("auto", None),
        ("required", "required"),
        (
            {"type": "function", "function": {"name": "get_time"}},
            {"type": "function", "function": {"name": "get_time"}},
        ),
    ],
)
def test_tool_choice_forms(
    client: openai.OpenAI, fake: FakeUpstream, tool_choice: Any, sent: Any
) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER, TIME])  # type: ignore[list-item]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "x"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, tool_choice=tool_choice
    )
    assert run.status == "completed"
    body = fake.requests[-1]
    assert body.get("tool_choice") == sent
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "get_time"]
    echoed = run.tool_choice
    if isinstance(echoed, str) or echoed is None:
        assert echoed == tool_choice
    else:
        assert echoed.model_dump(exclude_none=True) == tool_choice


def test_response_format_sampling_and_parallel(client: openai.OpenAI, fake: FakeUpstream) -> None:
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
            "strict": True,
        },
    }
    fake.script(Turn(text='{"a": "b"}'), Turn(text='{"a": "c"}'))
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[WEATHER],  # type: ignore[list-item]
        temperature=0.2,
        top_p=0.3,
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "json"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        response_format={"type": "json_object"},
        parallel_tool_calls=False,
    )
    assert run.status == "completed" and run.parallel_tool_calls is False
    body = fake.requests[-1]
    assert body["response_format"] == {"type": "json_object"}
    assert body["parallel_tool_calls"] is False
    assert (body["temperature"], body["top_p"]) == (0.2, 0.3)  # the assistant's
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        response_format=schema,  # type: ignore[arg-type]
        temperature=1.5,
        top_p=0.8,
    )
    assert run.status == "completed" and (run.temperature, run.top_p) == (1.5, 0.8)
    body = fake.requests[-1]
    assert body["response_format"] == schema
    assert (body["temperature"], body["top_p"]) == (1.5, 0.8)
    assert body["parallel_tool_calls"] is True
