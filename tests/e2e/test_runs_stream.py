"""Streaming runs through the official SDK's stream helpers, against the fake upstream."""

from __future__ import annotations

from typing import Any

import openai
from openai import AssistantEventHandler
from typing_extensions import override

from tests.fakes.upstream import FakeUpstream, Turn


class Recorder(AssistantEventHandler):
    """Overrides every callback and records what it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    @override
    def on_event(self, event: Any) -> None:
        self.calls.append(("event", event.event))

    @override
    def on_run_step_created(self, run_step: Any) -> None:
        self.calls.append(("step_created", run_step.type))

    @override
    def on_run_step_delta(self, delta: Any, snapshot: Any) -> None:
        self.calls.append(("step_delta", snapshot.id))

    @override
    def on_run_step_done(self, run_step: Any) -> None:
        self.calls.append(("step_done", run_step.status))

    @override
    def on_message_created(self, message: Any) -> None:
        self.calls.append(("message_created", message.id))

    @override
    def on_message_delta(self, delta: Any, snapshot: Any) -> None:
        self.calls.append(("message_delta", delta.content[0].text.value))

    @override
    def on_message_done(self, message: Any) -> None:
        self.calls.append(("message_done", message.content[0].text.value))

    @override
    def on_text_created(self, text: Any) -> None:
        self.calls.append(("text_created", text.value))

    @override
    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.calls.append(("text_delta", delta.value))

    @override
    def on_text_done(self, text: Any) -> None:
        self.calls.append(("text_done", text.value))

    @override
    def on_tool_call_created(self, tool_call: Any) -> None:
        self.calls.append(("tool_call_created", tool_call.type))

    @override
    def on_tool_call_delta(self, delta: Any, snapshot: Any) -> None:
        self.calls.append(("tool_call_delta", delta.type))

    @override
    def on_tool_call_done(self, tool_call: Any) -> None:
        self.calls.append(("tool_call_done", tool_call.type))

    @override
    def on_end(self) -> None:
        self.calls.append(("end", None))

    def names(self, kind: str) -> list[Any]:
        return [value for name, value in self.calls if name == kind]


def test_text_run_streams_every_callback(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="Hello there, friend", tokens=["Hello", " there", ",", " friend"]))
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Be kind.")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    handler = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
    assert handler.names("text_delta") == ["Hello", " there", ",", " friend"]
    assert handler.names("text_done") == ["Hello there, friend"]
    assert handler.names("end") == [None]
    events = handler.names("event")
    assert events == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        *["thread.message.delta"] * 4,
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]
    run = stream.get_final_run()
    assert run.status == "completed" and run.usage is not None and run.expires_at is None
    # The thread is unlocked as soon as the stream ends (the seed adds a message right away).
    client.beta.threads.messages.create(thread.id, role="user", content="next")
    messages = list(client.beta.threads.messages.list(thread.id, order="asc"))
    assert [m.role for m in messages] == ["user", "assistant", "user"]
    assert messages[1].content[0].text.value == "Hello there, friend"  # type: ignore[union-attr]
    assert messages[1].run_id == run.id and messages[1].assistant_id == assistant.id
    sent = fake.requests[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "hi"},
    ]
    assert sent["model"] == "gpt-4o" and sent["stream"] is True
