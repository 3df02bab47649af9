"""Request input → stored items; items → chat-completions messages for the model. Pure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import orjson

from assistantd import ids
from assistantd.errors import InvalidRequestError
from assistantd.executor.transcript import citation_marker, head_and_tail
from assistantd.items.schemas import (
    CodeInterpreterCallInput,
    CodeInterpreterCallItem,
    Content,
    FileSearchCallInput,
    FileSearchCallItem,
    FileSearchResult,
    FunctionCallInput,
    FunctionCallItem,
    FunctionCallOutputInput,
    FunctionCallOutputItem,
    InputFile,
    InputImage,
    InputItem,
    InputText,
    Item,
    ItemReferenceInput,
    LogsOutput,
    MessageInput,
    MessageItem,
    OutputText,
    Refusal,
)
from assistantd.tools.base import CODE_INTERPRETER_FUNCTION, FILE_SEARCH_FUNCTION

Resolve = Callable[[str], Awaitable[Item | None]]
"""Finds a stored item by id (for `item_reference`), or None."""


class Media(Protocol):
    """What the model is given for image and file parts (see responses_api.attachments)."""

    def image_url(self, part: InputImage) -> str | None: ...

    def file_text(self, part: InputFile) -> str: ...


class _NoMedia:
    def image_url(self, part: InputImage) -> str | None:
        return part.image_url

    def file_text(self, part: InputFile) -> str:
        return f"[file: {part.filename or part.file_id}]"


async def to_items(
    inputs: Sequence[InputItem], resolve: Resolve, *, param: str = "input"
) -> list[Item]:
    """Stored items for request input: ids given to new items, easy messages made full."""
    items: list[Item] = []
    for index, given in enumerate(inputs):
        if isinstance(given, MessageInput):
            items.append(_message(given))
        elif isinstance(given, FunctionCallInput):
            items.append(
                FunctionCallItem(
                    id=given.id or ids.new_id(ids.FUNCTION_CALL),
                    call_id=given.call_id,
                    name=given.name,
                    arguments=given.arguments,
                    status=given.status or "completed",
                )
            )
        elif isinstance(given, FunctionCallOutputInput):
            items.append(
                FunctionCallOutputItem(
                    id=given.id or ids.new_id(ids.FUNCTION_CALL_OUTPUT),
                    call_id=given.call_id,
                    output=given.output,
                    status=given.status or "completed",
                )
            )
        elif isinstance(given, FileSearchCallInput):
            items.append(
                FileSearchCallItem(
                    id=given.id,
                    status=given.status or "completed",
                    queries=given.queries,
                    results=given.results,
                )
            )
        elif isinstance(given, CodeInterpreterCallInput):
            items.append(
                CodeInterpreterCallItem(
                    id=given.id,
                    container_id=given.container_id,
                    code=given.code,
                    outputs=given.outputs,
                )
            )
        elif isinstance(given, ItemReferenceInput):
            found = await resolve(given.id)
            if found is None:
                raise InvalidRequestError(
                    f"Item with id '{given.id}' not found.",
                    param=f"{param}[{index}]",
                    code="invalid_value",
                )
            items.append(found)
    return items


def _message(given: MessageInput) -> MessageItem:
    content: list[Content]
    if isinstance(given.content, str):
        content = (
            [OutputText(text=given.content)]
            if given.role == "assistant"
            else [InputText(text=given.content)]
        )
    else:
        content = list(given.content)
    return MessageItem(
        id=given.id or ids.new_id(ids.MESSAGE),
        status=given.status or "completed",
        role=given.role,
        content=content,
    )


def text_input(text: str) -> list[Item]:
    """`input: "a string"`: one user message."""
    return [MessageItem(id=ids.new_id(ids.MESSAGE), role="user", content=[InputText(text=text)])]


def to_chat_messages(items: Sequence[Item], media: Media | None = None) -> list[dict[str, Any]]:
    """The chat-completions transcript of `items`: consecutive function calls become one
    assistant message with `tool_calls`, their outputs `tool` messages; image and file parts
    as `media` gives them."""
    media = media or _NoMedia()
    messages: list[dict[str, Any]] = []
    searches = 0
    for item in items:
        if isinstance(item, MessageItem):
            messages.append({"role": item.role, "content": _chat_content(item, media)})
        elif isinstance(item, FunctionCallItem):
            _add_call(messages, item.call_id, item.name, item.arguments)
        elif isinstance(item, FileSearchCallItem):
            arguments = orjson.dumps({"queries": item.queries}).decode()
            _add_call(messages, item.id, FILE_SEARCH_FUNCTION, arguments)
            output = search_output(item.results or [], searches)
            messages.append({"role": "tool", "tool_call_id": item.id, "content": output})
            searches += 1
        elif isinstance(item, CodeInterpreterCallItem):
            arguments = orjson.dumps({"code": item.code or ""}).decode()
            _add_call(messages, item.id, CODE_INTERPRETER_FUNCTION, arguments)
            output = code_output(item)
            messages.append({"role": "tool", "tool_call_id": item.id, "content": output})
        else:
            given = item.output
            text = given if isinstance(given, str) else _joined_text(given)
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": text})
    return messages


def _add_call(messages: list[dict[str, Any]], call_id: str, name: str, arguments: str) -> None:
    """A tool call joins the assistant message of the calls just before it, if any."""
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and "tool_calls" in last:
        last["tool_calls"].append(call)
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def code_output(item: CodeInterpreterCallItem) -> str:
    """What the model reads of a code call: its logs (start and end of long ones)."""
    parts = [
        output.logs if isinstance(output, LogsOutput) else "[image]"
        for output in item.outputs or []
    ]
    return head_and_tail("\n".join(parts)) or "(no output)"


def search_output(results: Sequence[FileSearchResult], ordinal: int) -> str:
    """The passages a search found, each with the marker that cites it (as in runs)."""
    if not results:
        return "No results found in the files."
    return "\n\n".join(
        f"{citation_marker(ordinal, index, result.filename)} (score {result.score:.2f})\n"
        f"{result.text}"
        for index, result in enumerate(results)
    )


def _joined_text(parts: Sequence[Any]) -> str:
    return "".join(part.text for part in parts if isinstance(part, InputText))


def _chat_content(item: MessageItem, media: Media) -> str | list[dict[str, Any]]:
    texts = [part.text for part in item.content if isinstance(part, InputText | OutputText)]
    if len(texts) == len(item.content):  # text only: the plain string form
        return "".join(texts)
    if item.role == "assistant":
        return "".join(
            part.text if isinstance(part, OutputText) else part.refusal
            for part in item.content
            if isinstance(part, OutputText | Refusal)
        )
    parts: list[dict[str, Any]] = []
    for part in item.content:
        if isinstance(part, InputText | OutputText):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, InputImage):
            url = media.image_url(part)
            if url:
                parts.append(
                    {"type": "image_url", "image_url": {"url": url, "detail": part.detail}}
                )
            else:
                parts.append({"type": "text", "text": f"[image {part.file_id}: not available]"})
        elif isinstance(part, InputFile):
            parts.append({"type": "text", "text": media.file_text(part)})
    if item.role in ("system", "developer"):  # chat takes only text parts there
        return "\n\n".join(part["text"] for part in parts if part["type"] == "text")
    return parts
