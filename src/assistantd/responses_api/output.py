"""A model call turned into output items and the Responses stream events, in order.

`OutputBuilder` is fed the `ChunkUpdate`s of an upstream stream (executor.accumulator) and
emits, for text: `output_item.added` (a message, in progress, no content),
`content_part.added` (an empty `output_text`), `output_text.delta`s, then on close
`output_text.done`, `content_part.done`, `output_item.done`; refusals the same with `refusal`
parts and events; for each tool call: `output_item.added` (a `function_call` with empty
arguments), `function_call_arguments.delta`s, then `function_call_arguments.done` and
`output_item.done`. A message is closed before a tool call opens. Events are plain dicts; the
emitter numbers them (`sequence_number`).
"""

from __future__ import annotations

from collections.abc import Callable
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


def dump(item: Item | OutputText | Refusal) -> dict[str, Any]:
    return item.model_dump(mode="json")


class OutputBuilder:
    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self.output: list[Item] = []
        self._message: int | None = None  # output index of the open message
        self._parts: list[tuple[Literal["text", "refusal"], list[str]]] = []
        self._calls: dict[int, int] = {}  # upstream call index -> output index
        self._arguments: dict[int, list[str]] = {}  # output index -> argument pieces

    # --- feeding ---------------------------------------------------------------------------------

    def feed(self, update: ChunkUpdate) -> None:
        if update.text:
            self._content("text", update.text)
        if update.refusal:
            self._content("refusal", update.refusal)
        for call in update.new_tool_calls:
            self._open_call(call)
        for index, piece in update.arguments:
            self._argument(index, piece)

    def _content(self, kind: Literal["text", "refusal"], piece: str) -> None:
        message = self._part_of(kind)
        self._parts[-1][1].append(piece)
        if kind == "text":
            self._event(
                "response.output_text.delta", self._where(message), delta=piece, logprobs=[]
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
            part = OutputText(text="") if kind == "text" else Refusal(refusal="")
            self._event("response.content_part.added", self._where(message), part=dump(part))
        return message

    def _open_message(self) -> None:
        message = MessageItem(
            id=ids.new_id(ids.MESSAGE), status="in_progress", role="assistant", content=[]
        )
        self._message = len(self.output)
        self.output.append(message)
        self._parts = []
        self._event("response.output_item.added", output_index=self._message, item=dump(message))

    def _open_call(self, call: NewToolCall) -> None:
        self.close_message("completed")
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
        index = self._calls[call_index]
        self._arguments[index].append(piece)
        self._event(
            "response.function_call_arguments.delta",
            item_id=self.output[index].id,
            output_index=index,
            delta=piece,
        )

    # --- closing ---------------------------------------------------------------------------------

    def _where(self, message: Item) -> dict[str, Any]:
        return {
            "item_id": message.id,
            "output_index": self._message,
            "content_index": len(self._parts) - 1,
        }

    def _part(self) -> OutputText | Refusal:
        kind, pieces = self._parts[-1]
        value = "".join(pieces)
        return OutputText(text=value) if kind == "text" else Refusal(refusal=value)

    def _close_part(self) -> None:
        assert self._message is not None
        message = self.output[self._message]
        part = self._part()
        where = self._where(message)
        if isinstance(part, OutputText):
            self._event("response.output_text.done", where, text=part.text, logprobs=[])
        else:
            self._event("response.refusal.done", where, refusal=part.refusal)
        self._event("response.content_part.done", where, part=dump(part))

    def close_message(self, status: ItemStatus) -> None:
        if self._message is None:
            return
        message = self.output[self._message]
        assert isinstance(message, MessageItem)
        content: list[OutputText | Refusal] = []
        for position in range(len(self._parts)):
            kind, pieces = self._parts[position]
            value = "".join(pieces)
            content.append(OutputText(text=value) if kind == "text" else Refusal(refusal=value))
        if self._parts:
            self._close_part()
        done = message.model_copy(update={"content": content, "status": status})
        self.output[self._message] = done
        self._event("response.output_item.done", output_index=self._message, item=dump(done))
        self._message, self._parts = None, []

    def finish(self, status: ItemStatus) -> list[Item]:
        """Close everything still open; the final output items."""
        if not self.output:
            self._part_of("text")  # an empty answer is still a (visible) message
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
        self._arguments.clear()
        return self.output

    def _event(self, kind: str, where: dict[str, Any] | None = None, **fields: Any) -> None:
        self._emit({"type": kind, **(where or {}), **fields})
