"""One model call of a run, turned into Assistants objects and stream events, in order.

`ModelTurn` is fed the `ChunkUpdate`s of an upstream stream (see `accumulator`) and emits what
the SDK's stream helpers expect (docs/streaming.md): for text, a message_creation step
(`step.created`, `step.in_progress`), then the message (`message.created` with empty content,
`message.in_progress`) and text deltas; for tool calls, a tool_calls step and its deltas
(header with id and name, then argument increments; the code interpreter's `code` argument is
streamed as `code_interpreter.input`). A message is completed before a tool step opens, so
deltas of two messages never interleave.

It neither talks to the upstream nor decides the run's fate: the run loop feeds it, then calls
`finish` (normal end: the message completes, the tool step stays `in_progress` for the tools or
`requires_action`) or `abort` (cancel/failure/expiry: open objects are closed as the spec says).
`save` is awaited whenever a message or step is created or changes status, so the store always
holds what the stream announced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from assistantd.clock import unix_now
from assistantd.events import deltas
from assistantd.events import models as ev
from assistantd.executor.accumulator import ChatAccumulator, ChunkUpdate, NewToolCall
from assistantd.executor.partial_json import StringFieldDecoder
from assistantd.executor.sequencer import CallSequencer
from assistantd.ids import MESSAGE, STEP, new_id
from assistantd.messages.schemas import (
    Message,
    MessageContent,
    RefusalContentBlock,
    Text,
    TextContentBlock,
)
from assistantd.messages.state import RUN_END_REASON, advance_message
from assistantd.run_steps.schemas import (
    CodeInterpreter,
    CodeInterpreterToolCall,
    FileSearchToolCall,
    Function,
    FunctionToolCall,
    LastError,
    MessageCreation,
    MessageCreationStepDetails,
    RunStep,
    RunStepStatus,
    ToolCall,
    ToolCallsStepDetails,
)
from assistantd.runs.schemas import Run
from assistantd.runs.state import RunEnd, advance_step
from assistantd.schemas import Usage

Publish = Callable[[ev.StreamEvent], None]
Save = Callable[[Message | RunStep], Awaitable[None]]
Finalize = Callable[[str, list[MessageContent], Publish], Awaitable[list[MessageContent]]]
"""Completes a message's content (message id, blocks, publish) before `message.completed`."""


@dataclass
class TurnResult:
    text: str
    finish_reason: str | None
    usage: Usage | None  # as the upstream reported it; None when it did not
    message: Message | None
    tool_step: RunStep | None  # still in_progress: the run loop runs the tools or asks for them
    tool_calls: list[ToolCall] = field(default_factory=list)
    arguments: dict[str, str] = field(default_factory=dict)  # call id -> the model's arguments


class ModelTurn:
    def __init__(
        self,
        run: Run,
        publish: Publish,
        save: Save,
        *,
        code_tool_name: str | None = None,
        file_search_tool_name: str | None = None,
        finalize: Finalize | None = None,
        clock: Callable[[], int] = unix_now,
    ) -> None:
        self._run = run
        self._publish = publish
        self._save = save
        self._code_tool_name = code_tool_name  # the function that *is* the code interpreter
        self._finalize = finalize
        self._file_search_tool_name = file_search_tool_name
        self._file_search: set[int] = set()  # indexes of file-search calls (no argument deltas)
        self._clock = clock
        self.message: Message | None = None
        self.message_step: RunStep | None = None
        self.tool_step: RunStep | None = None
        self._parts: list[tuple[str, list[str]]] = []  # (kind, pieces) per content part
        self._code: dict[int, tuple[StringFieldDecoder, list[str]]] = {}
        self._calls = CallSequencer(publish)

    # --- feeding ---------------------------------------------------------------------------------

    async def feed(self, update: ChunkUpdate) -> None:
        if update.text:
            await self._content("text", update.text)
        if update.refusal:
            await self._content("refusal", update.refusal)
        for call in update.new_tool_calls:
            await self._tool_call(call)
        for index, arguments in update.arguments:
            self._arguments(index, arguments)

    async def _content(self, kind: str, piece: str) -> None:
        message = self.message or await self._open_message()
        if not self._parts or self._parts[-1][0] != kind:
            self._parts.append((kind, []))
            first = True
        else:
            first = False
        self._parts[-1][1].append(piece)
        index = len(self._parts) - 1
        if kind == "text":
            self._publish(deltas.text_delta(message.id, piece, index=index, first=first))
        else:
            self._publish(deltas.refusal_delta(message.id, piece, index=index))

    async def _tool_call(self, call: NewToolCall) -> None:
        if self.message is not None:
            await self._complete_message(None)
        step = self.tool_step or await self._open_tool_step()
        if call.name == self._code_tool_name:
            self._code[call.index] = (StringFieldDecoder("code"), [])
            self._calls.header(call.index, deltas.code_header(step.id, call.index, call.id))
        elif call.name == self._file_search_tool_name:
            self._file_search.add(call.index)
            self._calls.header(call.index, deltas.file_search_header(step.id, call.index, call.id))
        else:
            header = deltas.function_header(step.id, call.index, call.id, call.name)
            self._calls.header(call.index, header)

    def _arguments(self, index: int, arguments: str) -> None:
        assert self.tool_step is not None  # arguments only follow an announced call
        if index in self._file_search:  # the step shows results, not the query
            self._calls.arguments(index, arguments, [])
            return
        code = self._code.get(index)
        if code is None:
            event = deltas.function_arguments(self.tool_step.id, index, arguments)
            self._calls.arguments(index, arguments, [event])
            return
        text = code[0].feed(arguments)
        if text:
            code[1].append(text)
        events = [deltas.code_input(self.tool_step.id, index, text)] if text else []
        self._calls.arguments(index, arguments, events)

    # --- opening ---------------------------------------------------------------------------------

    async def _open_message(self) -> Message:
        now = self._clock()
        message_id = new_id(MESSAGE)
        details = MessageCreationStepDetails(
            message_creation=MessageCreation(message_id=message_id)
        )
        self.message_step = await self._open_step("message_creation", details, now)
        self.message = Message(
            id=message_id,
            created_at=now,
            assistant_id=self._run.assistant_id,
            thread_id=self._run.thread_id,
            run_id=self._run.id,
            status="in_progress",
            role="assistant",
            content=[],
        )
        self._parts = []
        await self._save(self.message)
        self._publish(ev.ThreadMessageCreated(data=self.message))
        self._publish(ev.ThreadMessageInProgress(data=self.message))
        return self.message

    async def _open_tool_step(self) -> RunStep:
        self.tool_step = await self._open_step("tool_calls", ToolCallsStepDetails(), self._clock())
        return self.tool_step

    async def _open_step(
        self,
        kind: Literal["message_creation", "tool_calls"],
        details: MessageCreationStepDetails | ToolCallsStepDetails,
        now: int,
    ) -> RunStep:
        step = RunStep(
            id=new_id(STEP),
            created_at=now,
            assistant_id=self._run.assistant_id,
            thread_id=self._run.thread_id,
            run_id=self._run.id,
            type=kind,
            step_details=details,
        )
        await self._save(step)
        self._publish(ev.ThreadRunStepCreated(data=step))
        self._publish(ev.ThreadRunStepInProgress(data=step))
        return step

    # --- closing ---------------------------------------------------------------------------------

    async def finish(self, acc: ChatAccumulator) -> TurnResult:
        """The upstream answered in full: complete the message (or mark it incomplete when the
        model hit its token limit) and fill the tool step's calls."""
        usage = _usage(acc)
        self._calls.flush()
        if self.message is None and self.tool_step is None:
            await self._content("text", "")  # an empty answer is still a (visible) message
        message = self.message
        if message is not None:
            reason: Literal["max_tokens"] | None = (
                "max_tokens" if acc.finish_reason == "length" else None
            )
            message = await self._complete_message(reason, usage)
        calls: list[ToolCall] = []
        if self.tool_step is not None:
            calls = [
                self._final_call(state.index, state.id, state.name, state.arguments)
                for state in acc.tool_calls
                if state.announced
            ]
            details = ToolCallsStepDetails(tool_calls=calls)
            self.tool_step = self.tool_step.model_copy(update={"step_details": details})
            await self._save(self.tool_step)
        arguments = {state.id: state.arguments for state in acc.tool_calls if state.announced}
        return TurnResult(
            acc.text, acc.finish_reason, usage, message, self.tool_step, calls, arguments
        )

    def _final_call(self, index: int, call_id: str, name: str, arguments: str) -> ToolCall:
        if index in self._file_search:
            return FileSearchToolCall(id=call_id)
        code = self._code.get(index)
        if code is None:
            return FunctionToolCall(id=call_id, function=Function(name=name, arguments=arguments))
        return CodeInterpreterToolCall(
            id=call_id, code_interpreter=CodeInterpreter(input="".join(code[1]))
        )

    async def _complete_message(
        self, incomplete: Literal["max_tokens"] | None, usage: Usage | None = None
    ) -> Message:
        assert self.message is not None and self.message_step is not None
        now = self._clock()
        blocks = self._content_blocks()
        if self._finalize is not None:  # annotations and figures from the tools
            blocks = await self._finalize(self.message.id, blocks, self._publish)
        if incomplete is None:
            message = advance_message(self.message, "completed", now, content=blocks)
        else:
            message = advance_message(
                self.message, "incomplete", now, reason=incomplete, content=blocks
            )
        await self._save(message)
        self._publish(
            ev.ThreadMessageCompleted(data=message)
            if incomplete is None
            else ev.ThreadMessageIncomplete(data=message)
        )
        await self._close_step(self.message_step, "completed", usage=usage)
        self.message = self.message_step = None
        return message

    def _content_blocks(self) -> list[MessageContent]:
        blocks: list[MessageContent] = []
        for kind, pieces in self._parts:
            value = "".join(pieces)
            if kind == "text":
                blocks.append(TextContentBlock(text=Text(value=value, annotations=[])))
            else:
                blocks.append(RefusalContentBlock(refusal=value))
        return blocks

    async def _close_step(
        self,
        step: RunStep,
        to: RunStepStatus,
        *,
        usage: Usage | None = None,
        last_error: LastError | None = None,
    ) -> RunStep:
        changes: dict[str, object] = {}
        if usage is not None:
            changes["usage"] = usage
        if last_error is not None:
            changes["last_error"] = last_error
        closed, name = advance_step(step, to, self._clock(), **changes)
        await self._save(closed)
        self._publish(ev.step_event(name, closed))
        return closed

    async def abort(self, reason: RunEnd, last_error: LastError | None = None) -> None:
        """The run was cancelled, failed or expired mid-turn: close what is open.

        The message ends `incomplete` (run_cancelled / run_failed / run_expired) with what was
        streamed so far; open steps end `cancelled` / `failed` (with `last_error`) / `expired`.
        """
        if self.message is not None and self.message_step is not None:
            message = advance_message(
                self.message,
                "incomplete",
                self._clock(),
                reason=RUN_END_REASON[reason],
                content=self._content_blocks(),
            )
            await self._save(message)
            self._publish(ev.ThreadMessageIncomplete(data=message))
            await self._close_step(self.message_step, reason, last_error=last_error)
            self.message = self.message_step = None
        if self.tool_step is not None:
            self._calls.flush()
            self.tool_step = await self._close_step(self.tool_step, reason, last_error=last_error)


def _usage(acc: ChatAccumulator) -> Usage | None:
    if not acc.usage:
        return None
    prompt = acc.usage.get("prompt_tokens", 0)
    completion = acc.usage.get("completion_tokens", 0)
    total = acc.usage.get("total_tokens", prompt + completion)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)
