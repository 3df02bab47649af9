"""Builders of the delta events the run loop and the tools publish while a run streams.

They encode the SDK accumulator's rules (docs/streaming.md) in one place: every list entry has
`index` and `type`; a text part's first delta carries `annotations: []`; a tool call's `id`
and `name` go out once, in its header delta; later deltas carry only increments, and every
code-interpreter delta after the header carries a `code_interpreter` object.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistantd.events.models import (
    TextIncrement,
    ThreadMessageDelta,
    ThreadMessageTextDelta,
    ThreadRunStepDelta,
)
from assistantd.messages.deltas import (
    AnnotationDelta,
    FileCitationDeltaAnnotation,
    FilePathDeltaAnnotation,
    ImageFileDeltaBlock,
    MessageContentDelta,
    MessageDelta,
    MessageDeltaEvent,
    RefusalDeltaBlock,
    TextDelta,
    TextDeltaBlock,
)
from assistantd.messages.schemas import FileCitationAnnotation, FilePathAnnotation, ImageFile
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
) -> ThreadMessageTextDelta:
    """A text increment of content part `index`; `first` opens the part (annotations: [])."""
    return ThreadMessageTextDelta(data=TextIncrement(message_id, text, index, first))


def refusal_delta(message_id: str, refusal: str, *, index: int) -> ThreadMessageDelta:
    return _message(message_id, RefusalDeltaBlock(index=index, refusal=refusal))


def _message(message_id: str, part: MessageContentDelta) -> ThreadMessageDelta:
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


def annotations_delta(
    message_id: str,
    part: int,
    start: int,
    annotations: Sequence[FileCitationAnnotation | FilePathAnnotation],
) -> ThreadMessageDelta:
    """Annotations added to text part `part` once the answer is complete (citations, file
    links), numbered from `start`. The text value is "" rather than absent: handlers print
    `delta.value` on every text delta."""
    entries: list[AnnotationDelta] = []
    for number, found in enumerate(annotations):
        common = {
            "index": start + number,
            "text": found.text,
            "start_index": found.start_index,
            "end_index": found.end_index,
        }
        if isinstance(found, FileCitationAnnotation):
            entries.append(FileCitationDeltaAnnotation(**common, file_citation=found.file_citation))
        else:
            entries.append(FilePathDeltaAnnotation(**common, file_path=found.file_path))
    block = TextDeltaBlock(index=part, text=TextDelta(value="", annotations=entries))
    return _message(message_id, block)


def image_file_delta(message_id: str, part: int, file_id: str) -> ThreadMessageDelta:
    """An image part appended to a message (a figure the code interpreter drew)."""
    block = ImageFileDeltaBlock(index=part, image_file=ImageFile(file_id=file_id))
    return _message(message_id, block)
