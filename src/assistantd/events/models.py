"""One model per Assistants stream event (openai-python's `AssistantStreamEvent` members); the
run events (`thread.run.*`) live with the runs that publish them, in `runs.events`.

The executor publishes these objects, never dicts or strings; `events.sse` turns them into frames.
`ends_stream` marks the events after which a run's stream segment closes (terminal run events and
`thread.run.requires_action`: the client then submits tool outputs on a new stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, ConfigDict, SerializeAsAny, model_serializer

from assistantd.messages.deltas import MessageDelta, MessageDeltaEvent, TextDelta, TextDeltaBlock
from assistantd.messages.schemas import Message
from assistantd.run_steps.schemas import RunStep, RunStepDeltaEvent
from assistantd.schemas import Schema


class StreamEvent(Schema):
    """Base: `event` names the SSE event, `data` is its payload."""

    event: str
    data: Any
    ends_stream: ClassVar[bool] = False
    sparse: ClassVar[bool] = False  # deltas: dump with exclude_none (only what changed)


class ThreadCreated(StreamEvent):
    event: Literal["thread.created"] = "thread.created"
    data: SerializeAsAny[BaseModel]  # the thread object (owned by the threads package)


# --- run steps -----------------------------------------------------------------------------------


class _StepEvent(StreamEvent):
    data: RunStep


class ThreadRunStepCreated(_StepEvent):
    event: Literal["thread.run.step.created"] = "thread.run.step.created"


class ThreadRunStepInProgress(_StepEvent):
    event: Literal["thread.run.step.in_progress"] = "thread.run.step.in_progress"


class ThreadRunStepDelta(StreamEvent):
    event: Literal["thread.run.step.delta"] = "thread.run.step.delta"
    data: RunStepDeltaEvent
    sparse = True


class ThreadRunStepCompleted(_StepEvent):
    event: Literal["thread.run.step.completed"] = "thread.run.step.completed"


class ThreadRunStepFailed(_StepEvent):
    event: Literal["thread.run.step.failed"] = "thread.run.step.failed"


class ThreadRunStepCancelled(_StepEvent):
    event: Literal["thread.run.step.cancelled"] = "thread.run.step.cancelled"


class ThreadRunStepExpired(_StepEvent):
    event: Literal["thread.run.step.expired"] = "thread.run.step.expired"


# --- messages ------------------------------------------------------------------------------------


class _MessageEvent(StreamEvent):
    data: Message


class ThreadMessageCreated(_MessageEvent):
    event: Literal["thread.message.created"] = "thread.message.created"


class ThreadMessageInProgress(_MessageEvent):
    event: Literal["thread.message.in_progress"] = "thread.message.in_progress"


class ThreadMessageDelta(StreamEvent):
    event: Literal["thread.message.delta"] = "thread.message.delta"
    data: MessageDeltaEvent
    sparse = True


@dataclass(slots=True)
class TextIncrement:
    """The data of a `thread.message.delta` that adds `value` to text part `index` (`first`
    opens the part: `annotations: []`). One is published per token, so it is kept as four plain
    values and written straight to JSON, byte for byte what `MessageDeltaEvent` dumps with
    `exclude_none` (tests/unit/test_deltas.py compares them); `model()` is the typed object."""

    message_id: str
    value: str
    index: int = 0
    first: bool = False

    def json(self) -> bytes:
        # orjson and pydantic escape every string alike (tests/unit/test_deltas.py)
        return b"".join(
            (
                b'{"id":',
                orjson.dumps(self.message_id),
                b',"object":"thread.message.delta","delta":{"content":[{"index":',
                b"%d" % self.index,
                b',"type":"text","text":{"value":',
                orjson.dumps(self.value),
                b',"annotations":[]}}]}}' if self.first else b"}}]}}",
            )
        )

    def model(self) -> MessageDeltaEvent:
        text = TextDelta(value=self.value, annotations=[] if self.first else None)
        part = TextDeltaBlock(index=self.index, text=text)
        return MessageDeltaEvent(id=self.message_id, delta=MessageDelta(content=[part]))


class ThreadMessageTextDelta(StreamEvent):
    """`thread.message.delta` with a text increment: the event of every streamed token."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    event: Literal["thread.message.delta"] = "thread.message.delta"
    data: TextIncrement
    sparse = True


class ThreadMessageCompleted(_MessageEvent):
    event: Literal["thread.message.completed"] = "thread.message.completed"


class ThreadMessageIncomplete(_MessageEvent):
    event: Literal["thread.message.incomplete"] = "thread.message.incomplete"


# --- error and done ------------------------------------------------------------------------------


class ErrorData(Schema):
    """The spec's flat Error object, plus the same object under `error`.

    The 3.x SDK's stream helpers raise only when `data` has an `error` key; 1.x types the flat
    object. Sending both makes every SDK generation notice the failure (docs/streaming.md).
    """

    message: str
    type: str = "server_error"
    param: str | None = None
    code: str | None = "server_error"

    @model_serializer(mode="plain")
    def _flat_and_wrapped(self) -> dict[str, Any]:
        flat = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        return {**flat, "error": dict(flat)}


class ErrorEvent(StreamEvent):
    event: Literal["error"] = "error"
    data: ErrorData
    ends_stream = True


class Done(StreamEvent):
    """The final frame of every stream; `events.sse.DONE_FRAME` is its encoding."""

    event: Literal["done"] = "done"
    data: Literal["[DONE]"] = "[DONE]"
    ends_stream = True


STEP_EVENTS: dict[str, type[_StepEvent]] = {
    cls.model_fields["event"].default: cls
    for cls in (
        ThreadRunStepCreated,
        ThreadRunStepInProgress,
        ThreadRunStepCompleted,
        ThreadRunStepFailed,
        ThreadRunStepCancelled,
        ThreadRunStepExpired,
    )
}


def step_event(name: str, step: RunStep) -> StreamEvent:
    """The typed event for a name that `runs.state.advance_step` returned."""
    return STEP_EVENTS[name](event=name, data=step)
