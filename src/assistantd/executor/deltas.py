"""Builders of the Assistants delta events the run loop publishes while the model streams.

They encode the SDK accumulator's rules (contract §4.1) in one place: every list entry has
`index` and `type`; a text part's first delta carries `annotations: []`; a tool call's `id`
and `name` go out once, in its header delta; later deltas carry only increments, and every
code-interpreter delta after the header carries a `code_interpreter` object.
"""

from __future__ import annotations

from assistantd.events.models import ThreadMessageDelta, ThreadRunStepDelta
from assistantd.messages.deltas import (
    MessageDelta,
    MessageDeltaEvent,
    RefusalDeltaBlock,
    TextDelta,
    TextDeltaBlock,
)
from assistantd.run_steps.schemas import (
    CodeInterpreterDelta,
    CodeInterpreterImageDelta,
    CodeInterpreterLogsDelta,
    CodeInterpreterOutputImageImage,
    CodeInterpreterToolCallDelta,
    FileSearchToolCallDelta,
    FunctionDelta,
    FunctionToolCallDelta,
    RunStepDelta,
    RunStepDeltaEvent,
    ToolCallDelta,
    ToolCallDeltaObject,
)


def text_delta(
    message_id: str, text: str, *, index: int = 0, first: bool = False
) -> ThreadMessageDelta:
    """A text increment of content part `index`; `first` opens the part (annotations: [])."""
    part = TextDeltaBlock(
        index=index, text=TextDelta(value=text, annotations=[] if first else None)
    )
    return _message(message_id, part)


def refusal_delta(message_id: str, refusal: str, *, index: int) -> ThreadMessageDelta:
    return _message(message_id, RefusalDeltaBlock(index=index, refusal=refusal))


def _message(message_id: str, part: TextDeltaBlock | RefusalDeltaBlock) -> ThreadMessageDelta:
    delta = MessageDelta(content=[part])
    return ThreadMessageDelta(data=MessageDeltaEvent(id=message_id, delta=delta))


def function_header(step_id: str, index: int, call_id: str, name: str) -> ThreadRunStepDelta:
    """Announce a function call: id and name, empty arguments (the SDK's on_tool_call_created)."""
    function = FunctionDelta(name=name, arguments="")
    return _step(step_id, FunctionToolCallDelta(index=index, id=call_id, function=function))


def function_arguments(step_id: str, index: int, arguments: str) -> ThreadRunStepDelta:
    function = FunctionDelta(arguments=arguments)
    return _step(step_id, FunctionToolCallDelta(index=index, function=function))


def code_header(step_id: str, index: int, call_id: str) -> ThreadRunStepDelta:
    """Announce a code-interpreter call with empty input and outputs."""
    code = CodeInterpreterDelta(input="", outputs=[])
    return _step(
        step_id, CodeInterpreterToolCallDelta(index=index, id=call_id, code_interpreter=code)
    )


def code_input(step_id: str, index: int, text: str) -> ThreadRunStepDelta:
    code = CodeInterpreterDelta(input=text)
    return _step(step_id, CodeInterpreterToolCallDelta(index=index, code_interpreter=code))


def code_logs(step_id: str, index: int, output_index: int, logs: str) -> ThreadRunStepDelta:
    output = CodeInterpreterLogsDelta(index=output_index, logs=logs)
    code = CodeInterpreterDelta(outputs=[output])
    return _step(step_id, CodeInterpreterToolCallDelta(index=index, code_interpreter=code))


def code_image(step_id: str, index: int, output_index: int, file_id: str) -> ThreadRunStepDelta:
    image = CodeInterpreterOutputImageImage(file_id=file_id)
    code = CodeInterpreterDelta(
        outputs=[CodeInterpreterImageDelta(index=output_index, image=image)]
    )
    return _step(step_id, CodeInterpreterToolCallDelta(index=index, code_interpreter=code))


def file_search_header(step_id: str, index: int, call_id: str) -> ThreadRunStepDelta:
    return _step(step_id, FileSearchToolCallDelta(index=index, id=call_id))


def _step(step_id: str, call: ToolCallDelta) -> ThreadRunStepDelta:
    details = ToolCallDeltaObject(tool_calls=[call])
    return ThreadRunStepDelta(
        data=RunStepDeltaEvent(id=step_id, delta=RunStepDelta(step_details=details))
    )
