"""The chat-completions request body for one model call of a run. Pure.

Run settings map onto chat-completions parameters: user functions become `tools`; server tools
(code interpreter, file search) become the function definitions their runners provide, passed
in as `server_tools` (a run that asks for one without a runner fails cleanly with
`UnsupportedTool`); `tool_choice`, `parallel_tool_calls`, `response_format`, `temperature`,
`top_p` are passed on, `reasoning_effort` too for the models that take it (OpenAI's o-series
and gpt-5; other servers may reject the parameter); the remaining completion budget becomes
`max_completion_tokens` for OpenAI's reasoning models (which reject `max_tokens`) and
`max_tokens` for everything else (the parameter every OpenAI-compatible server understands).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assistantd.runs.schemas import AssistantToolChoice, Run
from assistantd.schemas import FunctionTool

_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


class UnsupportedTool(ValueError):
    """The run asks for a server tool this server has no runner for (yet)."""


def chat_request(
    run: Run,
    messages: Sequence[Mapping[str, Any]],
    *,
    max_completion_tokens: int | None = None,
    server_tools: Mapping[str, Mapping[str, Any]] | None = None,
    reasoning_effort: str | None = None,
) -> dict[str, Any]:
    """Build the body; `server_tools` maps a tool type to its chat `tools` entry."""
    body: dict[str, Any] = {"model": run.model, "messages": list(messages)}
    tools = _tools(run, server_tools or {})
    if tools:
        body["tools"] = tools
        choice = _tool_choice(run, server_tools or {})
        if choice is not None:
            body["tool_choice"] = choice
        body["parallel_tool_calls"] = run.parallel_tool_calls
    response_format = _response_format(run)
    if response_format is not None:
        body["response_format"] = response_format
    if run.temperature is not None:
        body["temperature"] = run.temperature
    if run.top_p is not None:
        body["top_p"] = run.top_p
    if max_completion_tokens is not None:
        body[max_tokens_key(run.model)] = max_completion_tokens
    if reasoning_effort is None and is_reasoning_model(run.model):
        reasoning_effort = run.reasoning_effort
    if reasoning_effort is not None:
        body["reasoning_effort"] = reasoning_effort
    return body


def _tools(run: Run, server_tools: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    for tool in run.tools:
        if isinstance(tool, FunctionTool):
            definition = tool.function.model_dump(by_alias=True, exclude_none=True)
            if not definition.get("strict"):
                definition.pop("strict", None)  # only OpenAI knows it; false is the default
            tools.append({"type": "function", "function": definition})
        elif tool.type in server_tools:
            tools.append(dict(server_tools[tool.type]))
        else:
            raise UnsupportedTool(f"The {tool.type} tool is not available on this server yet.")
    return tools


def _tool_choice(run: Run, server_tools: Mapping[str, Mapping[str, Any]]) -> Any:
    choice = run.tool_choice
    if choice is None or choice == "auto":
        return None  # the upstream default; some servers reject an explicit "auto"
    if not isinstance(choice, AssistantToolChoice):
        return choice  # "none" | "required"
    if choice.type == "function" and choice.function is not None:
        return {"type": "function", "function": {"name": choice.function.name}}
    name = server_tools.get(choice.type, {}).get("function", {}).get("name")
    if name is None:
        raise UnsupportedTool(f"tool_choice names {choice.type}, which this run cannot use.")
    return {"type": "function", "function": {"name": name}}


def _response_format(run: Run) -> dict[str, Any] | None:
    fmt = run.response_format
    if fmt is None or fmt == "auto" or isinstance(fmt, str):
        return None
    if fmt.type == "text":
        return None  # the default; not every compatible server accepts it
    dumped: dict[str, Any] = fmt.model_dump(by_alias=True, exclude_none=True)
    return dumped


def is_reasoning_model(model: str) -> bool:
    """OpenAI's reasoning models (o-series, gpt-5), which take `reasoning_effort`."""
    return model.lower().rsplit("/", 1)[-1].startswith(_REASONING_PREFIXES)


def max_tokens_key(model: str) -> str:
    """The completion budget's parameter name: reasoning models reject `max_tokens`."""
    return "max_completion_tokens" if is_reasoning_model(model) else "max_tokens"
