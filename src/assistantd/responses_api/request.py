"""The chat-completions body for a response. Pure.

Instructions become the system message, items the transcript (see items.convert), function
tools chat `tools` (`strict` only when asked for: other servers may not know it; file search
the function the runs offer too, run by us), `tool_choice`
and `parallel_tool_calls` are passed on, `text.format` becomes `response_format`,
`max_output_tokens` the completion budget and `reasoning.effort` `reasoning_effort` for the
models that take them. Sampling parameters are sent only when the request gave them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from assistantd.executor.context import build_context, context_window
from assistantd.executor.request import is_reasoning_model, max_tokens_key
from assistantd.items import convert
from assistantd.items.schemas import Item
from assistantd.responses_api.schemas import (
    CodeInterpreterToolParam,
    FileSearchToolParam,
    FormatJsonObject,
    FormatJsonSchema,
    Reasoning,
    ResponseToolParam,
    TextConfig,
    ToolChoice,
    ToolChoiceFunction,
    ToolChoiceHosted,
)
from assistantd.runs.schemas import TruncationStrategy
from assistantd.tokens import REPLY_PRIMING, count_messages
from assistantd.tools.base import (
    CODE_INTERPRETER_DEFINITION,
    CODE_INTERPRETER_FUNCTION,
    FILE_SEARCH_DEFINITION,
    FILE_SEARCH_FUNCTION,
)


def messages(
    instructions: str | None, transcript: Sequence[Item], media: convert.Media | None = None
) -> list[dict[str, Any]]:
    system = [{"role": "system", "content": instructions}] if instructions else []
    return system + convert.to_chat_messages(transcript, media)


def tools(given: Sequence[ResponseToolParam]) -> list[dict[str, Any]]:
    out = []
    for tool in given:
        if isinstance(tool, FileSearchToolParam):
            out.append(FILE_SEARCH_DEFINITION)  # run by us (responses_api.file_search)
            continue
        if isinstance(tool, CodeInterpreterToolParam):
            out.append(CODE_INTERPRETER_DEFINITION)  # run by us (responses_api.code)
            continue
        function: dict[str, Any] = {"name": tool.name}
        if tool.description is not None:
            function["description"] = tool.description
        function["parameters"] = tool.parameters or {"type": "object", "properties": {}}
        if tool.strict:
            function["strict"] = True
        out.append({"type": "function", "function": function})
    return out


def chat_body(
    *,
    model: str,
    messages: list[dict[str, Any]],
    function_tools: Sequence[ResponseToolParam],
    tool_choice: ToolChoice | None,
    parallel_tool_calls: bool | None,
    text: TextConfig | None,
    max_output_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    reasoning: Reasoning | None,
    logprobs: bool = False,
    top_logprobs: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": messages}
    if logprobs:  # `include: ["message.output_text.logprobs"]`, relayed from the model's
        body["logprobs"] = True
        if top_logprobs:
            body["top_logprobs"] = top_logprobs
    chat_tools = tools(function_tools)
    if chat_tools:
        body["tools"] = chat_tools
        if isinstance(tool_choice, ToolChoiceFunction):
            body["tool_choice"] = {"type": "function", "function": {"name": tool_choice.name}}
        elif isinstance(tool_choice, ToolChoiceHosted):
            name = (
                FILE_SEARCH_FUNCTION
                if tool_choice.type == "file_search"
                else CODE_INTERPRETER_FUNCTION
            )
            body["tool_choice"] = {"type": "function", "function": {"name": name}}
        elif tool_choice in ("none", "required"):
            body["tool_choice"] = tool_choice
        if parallel_tool_calls is not None:
            body["parallel_tool_calls"] = parallel_tool_calls
    response_format = _response_format(text)
    if response_format is not None:
        body["response_format"] = response_format
    if temperature is not None:
        body["temperature"] = temperature
    if top_p is not None:
        body["top_p"] = top_p
    if max_output_tokens is not None:
        body[max_tokens_key(model)] = max_output_tokens
    if reasoning is not None and reasoning.effort is not None and is_reasoning_model(model):
        body["reasoning_effort"] = reasoning.effort
    return body


def _response_format(text: TextConfig | None) -> dict[str, Any] | None:
    fmt = text.format if text is not None else None
    if isinstance(fmt, FormatJsonObject):
        return {"type": "json_object"}
    if isinstance(fmt, FormatJsonSchema):
        spec: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_}
        if fmt.description is not None:
            spec["description"] = fmt.description
        if fmt.strict is not None:
            spec["strict"] = fmt.strict
        return {"type": "json_schema", "json_schema": spec}
    return None  # text: the default, which not every compatible server accepts explicitly


def without_server_tools(body: dict[str, Any]) -> dict[str, Any]:
    """The model request once `max_tool_calls` is used up: the server tools are no longer
    offered (their earlier calls stay in the transcript), the client's functions still are."""
    server = {FILE_SEARCH_FUNCTION, CODE_INTERPRETER_FUNCTION}
    kept = [tool for tool in body.get("tools", ()) if tool["function"]["name"] not in server]
    out = {**body, "tools": kept}
    choice = out.get("tool_choice")
    if isinstance(choice, dict) and choice["function"]["name"] in server:
        del out["tool_choice"]
    if not kept:
        for key in ("tools", "tool_choice", "parallel_tool_calls"):
            out.pop(key, None)
    return out


def fitted(
    instructions: str | None,
    transcript: Sequence[Item],
    media: convert.Media | None,
    *,
    model: str,
    truncation: str,
    context_windows: Mapping[str, int],
    reserve: int = 0,
) -> list[dict[str, Any]] | None:
    """The messages of a model call within the model's context window: all of them, or with
    `truncation: auto` the oldest items dropped (as the runs' `auto` truncation does); None when
    they do not fit. Tokens are counted only when the JSON of the messages is longer than the
    window (a token is at least one byte), so a short prompt costs one serialisation."""
    rendered = convert.to_chat_messages(transcript, media)
    system = [{"role": "system", "content": instructions}] if instructions else []
    window = context_window(model, context_windows) - reserve
    if len(orjson.dumps(rendered)) + len(instructions or "") + REPLY_PRIMING <= window:
        return system + rendered
    if truncation == "auto":
        built = build_context(
            instructions,
            rendered,
            model=model,
            strategy=TruncationStrategy(type="auto"),
            context_windows=context_windows,
            reserve_tokens=reserve,
        )
        return built.messages if built.fits else None
    messages = system + rendered
    return messages if count_messages(messages, model) <= window else None
