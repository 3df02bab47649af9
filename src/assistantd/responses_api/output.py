"""Model calls turned into output items and the Responses stream events, in order.

`OutputBuilder` is fed the `ChunkUpdate`s of upstream streams (executor.accumulator), one model
call ("turn") after another, and emits, for text: `output_item.added` (a message, in progress,
no content), `content_part.added` (an empty `output_text`), `output_text.delta`s, then on close
`output_text.annotation.added` for each citation, `output_text.done`, `content_part.done`,
`output_item.done`; refusals the same with `refusal` parts and events; for each function call:
`output_item.added` (a `function_call` with empty arguments), `function_call_arguments.delta`s,
then `function_call_arguments.done` and `output_item.done`. A message is closed before a tool
call opens. Calls of server tools (file search) are kept quiet and handed back by
`finish_turn`: their items are added by the tool with events of their own. Events are plain
dicts; the emitter numbers them (`sequence_number`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from assistantd import ids
from assistantd.executor.accumulator import ChunkUpdate, NewToolCall
from assistantd.items.schemas import (
    FunctionCallItem,
    Item,
    ItemStatus,
    MessageItem,
    OutputText,
    Refusal,
)

Emit = Callable[[dict[str, Any]], None]
Annotate = Callable[[str], list[dict[str, Any]]]
"""The citations (annotation objects) found in a finished text part."""


def dump(item: Item | OutputText | Refusal) -> dict[str, Any]:
    return item.model_dump(mode="json")


@dataclass
class ServerCall:
    """A call of a server tool the model made: `name` and its JSON `arguments`."""

    call_id: str
    name: str
    pieces: list[str] = field(default_factory=list)

    @property
    def arguments(self) -> str:
        return "".join(self.pieces)


class OutputBuilder:
    def __init__(
        self,
        emit: Emit,
        *,
        server_tools: frozenset[str] = frozenset(),
        annotate: Annotate | None = None,
    ) -> None:
        self._emit = emit
        self._server_tools = server_tools
        self.annotate = annotate
        self.output: list[Item] = []
        self._message: int | None = None  # output index of the open message
        self._parts: list[tuple[Literal["text", "refusal"], list[str]]] = []
        self._calls: dict[int, int] = {}  # this turn's call index -> output index
        self._arguments: dict[int, list[str]] = {}  # output index -> argument pieces
        self._server: dict[int, ServerCall] = {}  # this turn's call index -> server call
        self._done_parts: list[OutputText | Refusal] = []
        self._logprobs: list[dict[str, Any]] = []
        self.called_functions = False  # the last turn called function tools (the client's)

    # --- feeding ---------------------------------------------------------------------------------

    def feed(self, update: ChunkUpdate, logprobs: list[dict[str, Any]] | None = None) -> None:
        if update.text:
            self._content("text", update.text, logprobs or [])
        if update.refusal:
            self._content("refusal", update.refusal)
        for call in update.new_tool_calls:
            self._open_call(call)
        for index, piece in update.arguments:
            self._argument(index, piece)

    def _content(
        self,
        kind: Literal["text", "refusal"],
        piece: str,
        logprobs: list[dict[str, Any]] | None = None,
    ) -> None:
        message = self._part_of(kind)
        self._parts[-1][1].append(piece)
        if kind == "text":
            if logprobs:
                self._logprobs.extend(logprobs)
            self._event(
                "response.output_text.delta",
                self._where(message),
                delta=piece,
                logprobs=logprobs or [],
            )
        else:
            self._event("response.refusal.delta", self._where(message), delta=piece)

    def _part_of(self, kind: Literal["text", "refusal"]) -> Item:
        """The open message, with an open part of `kind` (opening either as needed)."""
        if self._message is None:
            self._open_message()
        assert self._message is not None
        message = self.output[self._message]
        if not self._parts or self._parts[-1][0] != kind:
            if self._parts:
                self._close_part()
            self._parts.append((kind, []))
            self._logprobs = []  # the open text part's, as the model sent them
            part = OutputText(text="") if kind == "text" else Refusal(refusal="")
            self._event("response.content_part.added", self._where(message), part=dump(part))
        return message

    def _open_message(self) -> None:
        message = MessageItem(
            id=ids.new_id(ids.MESSAGE), status="in_progress", role="assistant", content=[]
        )
        self._message = len(self.output)
        self.output.append(message)
        self._parts, self._done_parts = [], []
        self._event("response.output_item.added", output_index=self._message, item=dump(message))

    def _open_call(self, call: NewToolCall) -> None:
        self.close_message("completed")
        if call.name in self._server_tools:
            self._server[call.index] = ServerCall(call.id, call.name)
            return
        item = FunctionCallItem(
            id=ids.new_id(ids.FUNCTION_CALL),
            call_id=call.id,
            name=call.name,
            arguments="",
            status="in_progress",
        )
        index = len(self.output)
        self.output.append(item)
        self._calls[call.index] = index
        self._arguments[index] = []
        self._event("response.output_item.added", output_index=index, item=dump(item))

    def _argument(self, call_index: int, piece: str) -> None:
        server = self._server.get(call_index)
        if server is not None:
            server.pieces.append(piece)
            return
        index = self._calls[call_index]
        self._arguments[index].append(piece)
        self._event(
            "response.function_call_arguments.delta",
            item_id=self.output[index].id,
            output_index=index,
            delta=piece,
        )

    # --- items of server tools -------------------------------------------------------------------

    def add_item(self, item: Item) -> int:
        """Announce a server tool's item (in progress); its output index."""
        index = len(self.output)
        self.output.append(item)
        self._event("response.output_item.added", output_index=index, item=dump(item))
        return index

    def progress(self, index: int, kind: str) -> None:
        """A progress event of a server tool's item (`response.file_search_call.searching`)."""
        self._event(kind, output_index=index, item_id=self.output[index].id)

    def event(self, kind: str, **fields: Any) -> None:
        """Any other event of a server tool (`response.code_interpreter_call_code.delta`)."""
        self._event(kind, **fields)

    def done_item(self, index: int, item: Item) -> None:
        self.output[index] = item
        self._event("response.output_item.done", output_index=index, item=dump(item))

    # --- closing ---------------------------------------------------------------------------------

    def _where(self, message: Item) -> dict[str, Any]:
        return {
            "item_id": message.id,
            "output_index": self._message,
            "content_index": len(self._parts) - 1,
        }

    def _close_part(self) -> None:
        assert self._message is not None
        message = self.output[self._message]
        kind, pieces = self._parts[-1]
        where = self._where(message)
        value = "".join(pieces)
        part: OutputText | Refusal
        if kind == "text":
            annotations = self.annotate(value) if self.annotate is not None else []
            for position, annotation in enumerate(annotations):
                self._event(
                    "response.output_text.annotation.added",
                    where,
                    annotation_index=position,
                    annotation=annotation,
                )
            logprobs = self._logprobs
            part = OutputText(text=value, annotations=annotations, logprobs=logprobs)
            self._event("response.output_text.done", where, text=value, logprobs=logprobs)
        else:
            part = Refusal(refusal=value)
            self._event("response.refusal.done", where, refusal=value)
        self._event("response.content_part.done", where, part=dump(part))
        self._done_parts.append(part)

    def close_message(self, status: ItemStatus) -> None:
        if self._message is None:
            return
        message = self.output[self._message]
        assert isinstance(message, MessageItem)
        if self._parts:
            self._close_part()
        done = message.model_copy(update={"content": list(self._done_parts), "status": status})
        self.output[self._message] = done
        self._event("response.output_item.done", output_index=self._message, item=dump(done))
        self._message, self._parts, self._done_parts = None, [], []

    def finish_turn(self, status: ItemStatus) -> list[ServerCall]:
        """Close what one model call left open; the server tool calls it made."""
        self.close_message(status)
        for index, pieces in self._arguments.items():
            call = self.output[index]
            assert isinstance(call, FunctionCallItem)
            arguments = "".join(pieces)
            done = call.model_copy(update={"arguments": arguments, "status": status})
            self.output[index] = done
            self._event(
                "response.function_call_arguments.done",
                item_id=call.id,
                name=call.name,
                output_index=index,
                arguments=arguments,
            )
            self._event("response.output_item.done", output_index=index, item=dump(done))
        server = list(self._server.values())
        self.called_functions = bool(self._arguments)
        self._arguments, self._calls, self._server = {}, {}, {}
        return server

    def finish(self, status: ItemStatus) -> list[Item]:
        """The last model call ended: close everything; the final output items."""
        if not self.output:
            self._part_of("text")  # an empty answer is still a (visible) message
        self.finish_turn(status)
        return self.output

    def _event(self, kind: str, where: dict[str, Any] | None = None, **fields: Any) -> None:
        self._emit({"type": kind, **(where or {}), **fields})
