"""Renders a thread (messages, and earlier runs' tool-call steps) as chat-completions messages.

Pure. Input items come in thread order: `Message`s, and `RunStep`s of earlier runs so that
the model sees what its tools did. Rendering rules:

* Text-only messages become a plain string `content` (what every compatible server accepts);
  messages with images become a list of parts. `image_file` parts need the caller's
  `image_url_for(file_id)` (e.g. a base64 data URL); without one they become a text note.
* Attachments are noted in text (`[Attached file file-x for code_interpreter]`): the file's
  content reaches the model through the tools, not the prompt.
* A tool-calls step becomes an assistant message with `tool_calls` followed by one `tool`
  message per call. Calls without a result (an unanswered function, a cancelled step) are left
  out, because chat APIs reject a tool call without its result. Code-interpreter calls are
  replayed as calls of the function named in `tool_names` with `{"code": input}` arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from assistantd.messages.schemas import (
    ImageFileContentBlock,
    ImageURLContentBlock,
    Message,
    RefusalContentBlock,
    TextContentBlock,
)
from assistantd.run_steps.schemas import (
    CodeInterpreterOutputLogs,
    CodeInterpreterToolCall,
    FileSearchToolCall,
    FunctionToolCall,
    RunStep,
    ToolCall,
    ToolCallsStepDetails,
)

ChatMessage = dict[str, Any]
ImageURLFor = Callable[[str], str | None]
DEFAULT_TOOL_NAMES: Mapping[str, str] = {
    "code_interpreter": "code_interpreter",
    "file_search": "file_search",
}


def render_transcript(
    items: Sequence[Message | RunStep],
    *,
    image_url_for: ImageURLFor | None = None,
    tool_names: Mapping[str, str] = DEFAULT_TOOL_NAMES,
    searches: dict[str, int] | None = None,
) -> list[ChatMessage]:
    """`searches`: run id -> file-search calls seen before `items` (their citation markers'
    numbers go on from there), updated; None when `items` start the thread."""
    rendered: list[ChatMessage] = []
    searches = {} if searches is None else searches
    for item in items:
        if isinstance(item, Message):
            message = render_message(item, image_url_for)
            if message is not None:
                rendered.append(message)
        else:
            rendered.extend(render_tool_step(item, tool_names, searches))
    return rendered


def render_message(
    message: Message, image_url_for: ImageURLFor | None = None
) -> ChatMessage | None:
    """One thread message as a chat message; None when it has nothing to say."""
    parts: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContentBlock):
            parts.append({"type": "text", "text": block.text.value})
        elif isinstance(block, RefusalContentBlock):
            parts.append({"type": "text", "text": block.refusal})
        elif isinstance(block, ImageURLContentBlock):
            parts.append(_image(block.image_url.url, block.image_url.detail))
        elif isinstance(block, ImageFileContentBlock):
            url = image_url_for(block.image_file.file_id) if image_url_for else None
            parts.append(
                _image(url, block.image_file.detail)
                if url
                else {"type": "text", "text": f"[Image file {block.image_file.file_id}]"}
            )
    for attachment in message.attachments or ():
        tools = ", ".join(tool.type for tool in attachment.tools) or "no tool"
        parts.append({"type": "text", "text": f"[Attached file {attachment.file_id} for {tools}]"})
    if not parts:
        return None
    if all(part["type"] == "text" for part in parts):
        return {"role": message.role, "content": "\n".join(part["text"] for part in parts)}
    return {"role": message.role, "content": parts}


def _image(url: str, detail: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, "detail": detail}}


def render_tool_step(
    step: RunStep,
    tool_names: Mapping[str, str] = DEFAULT_TOOL_NAMES,
    searches: dict[str, int] | None = None,
) -> list[ChatMessage]:
    """A tool-calls step as an assistant tool-calls message plus the tool results."""
    if not isinstance(step.step_details, ToolCallsStepDetails):
        return []
    calls: list[dict[str, Any]] = []
    results: list[ChatMessage] = []
    searches = {} if searches is None else searches
    for call in step.step_details.tool_calls:
        ordinal = searches.get(step.run_id, 0)
        if isinstance(call, FileSearchToolCall):
            searches[step.run_id] = ordinal + 1
        replay = _replay(call, tool_names, ordinal)
        if replay is None:
            continue
        name, arguments, output = replay
        calls.append(
            {"id": call.id, "type": "function", "function": {"name": name, "arguments": arguments}}
        )
        results.append({"role": "tool", "tool_call_id": call.id, "content": output})
    if not calls:
        return []
    return [{"role": "assistant", "content": None, "tool_calls": calls}, *results]


def _replay(
    call: ToolCall, tool_names: Mapping[str, str], ordinal: int = 0
) -> tuple[str, str, str] | None:
    """(function name, arguments, output) of a finished call; None if it has no result."""
    if isinstance(call, FunctionToolCall):
        if call.function.output is None:
            return None
        return call.function.name, call.function.arguments, call.function.output
    if isinstance(call, CodeInterpreterToolCall):
        code = call.code_interpreter
        arguments = orjson.dumps({"code": code.input}).decode()
        outputs = [
            out.logs
            if isinstance(out, CodeInterpreterOutputLogs)
            else f"[Image file {out.image.file_id}]"
            for out in code.outputs
        ]
        return tool_names["code_interpreter"], arguments, head_and_tail("\n".join(outputs))
    if isinstance(call, FileSearchToolCall):
        return tool_names["file_search"], "{}", file_search_output(call, ordinal)
    return None


MODEL_OUTPUT_CHARS = 20_000


def head_and_tail(text: str, limit: int = MODEL_OUTPUT_CHARS) -> str:
    """What the model reads of a long tool output: its start and its end."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters truncated ...]\n{text[-half:]}"


def citation_marker(ordinal: int, index: int, file_name: str) -> str:
    """The marker the model copies into its answer to cite a passage (OpenAI's format)."""
    return f"【{ordinal}:{index}†{file_name}】"


def file_search_output(call: FileSearchToolCall, ordinal: int) -> str:
    """The passages a file search found, each with the marker that cites it."""
    results = call.file_search.results or []
    if not results:
        return "No results found in the files."
    blocks = []
    for index, result in enumerate(results):
        text = "".join(part.text or "" for part in result.content or [])
        marker = citation_marker(ordinal, index, result.file_name)
        blocks.append(f"{marker} (score {result.score:.2f})\n{text}")
    return "\n\n".join(blocks)
