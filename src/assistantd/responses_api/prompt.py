"""An extension: `prompt: {"id": "asst_..."}` makes a response take an assistant's settings.

OpenAI's `prompt` names a template kept in its dashboard; this server has no dashboard, and
its reusable, stored configurations are assistants. So `prompt.id` may name an assistant of
the project and the response takes, for what the request leaves out: its `model`, its
`instructions` (the request's own `instructions` are added after them, as a run's
`additional_instructions` are), its tools with their `tool_resources` (file search over its
vector stores, the code interpreter with its files; the request's tools are added, a
function of the same name replacing the assistant's), `temperature`, `top_p`, its
`response_format` as `text.format` and its `reasoning_effort`. `prompt.variables` fill
`{{name}}` in the instructions. `prompt.version` is ignored (assistants have none).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids
from assistantd.assistants import store as assistants_store
from assistantd.assistants.schemas import Assistant
from assistantd.errors import InvalidRequestError
from assistantd.items.schemas import InputText
from assistantd.responses_api.schemas import (
    AutoContainer,
    CodeInterpreterToolParam,
    CreateResponseRequest,
    FileSearchRanking,
    FileSearchToolParam,
    FormatJsonObject,
    FormatJsonSchema,
    FunctionToolParam,
    Reasoning,
    ResponseToolParam,
    TextConfig,
)
from assistantd.schemas import (
    CodeInterpreterTool,
    FileSearchTool,
    ResponseFormatJsonObject,
    ResponseFormatJsonSchema,
)

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


def missing_model() -> InvalidRequestError:
    return InvalidRequestError(
        "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
    )


async def apply(
    conn: AsyncConnection, project: str, request: CreateResponseRequest
) -> CreateResponseRequest:
    """`request` with the named assistant's settings filled in (see the module docstring)."""
    prompt = request.prompt
    if prompt is None:
        if not request.model:
            raise missing_model()
        return request
    if not prompt.id.startswith(ids.ASSISTANT):
        raise InvalidRequestError(
            "Prompt templates are not kept on this server: 'prompt.id' may name an assistant "
            "(asst_...) whose model, instructions and tools the response takes.",
            param="prompt.id",
            code="invalid_value",
        )
    assistant = await assistants_store.get(conn, project, prompt.id)
    if assistant is None:
        raise InvalidRequestError(f"No assistant found with id '{prompt.id}'.", param="prompt.id")
    own = _fill(assistant.instructions, prompt.variables or {})
    instructions = "\n\n".join(text for text in (own, request.instructions) if text)
    update: dict[str, Any] = {
        "model": request.model or assistant.model,
        "instructions": instructions or None,
        "tools": _tools(assistant, request.tools or []),
        "temperature": _first(request.temperature, assistant.temperature),
        "top_p": _first(request.top_p, assistant.top_p),
        "text": request.text or _text(assistant),
    }
    if request.reasoning is None and assistant.reasoning_effort is not None:
        update["reasoning"] = Reasoning(effort=assistant.reasoning_effort)
    return request.model_copy(update=update)


def _first(given: float | None, default: float | None) -> float | None:
    return given if given is not None else default


def _fill(instructions: str | None, variables: dict[str, Any]) -> str | None:
    """`{{name}}` replaced by the variable's text; names without a value are kept as they are."""
    if not instructions or not variables:
        return instructions

    def value(match: re.Match[str]) -> str:
        given = variables.get(match.group(1))
        if given is None:
            return match.group(0)
        if isinstance(given, str):
            return given
        if isinstance(given, InputText):
            return given.text
        raise InvalidRequestError(
            "Only text variables can be filled into an assistant's instructions.",
            param=f"prompt.variables.{match.group(1)}",
            code="invalid_value",
        )

    return _VARIABLE.sub(value, instructions)


def _tools(assistant: Assistant, given: list[ResponseToolParam]) -> list[ResponseToolParam]:
    resources = assistant.tool_resources
    names = {tool.name for tool in given if isinstance(tool, FunctionToolParam)}
    kinds = {tool.type for tool in given}
    tools: list[ResponseToolParam] = []
    for tool in assistant.tools:
        if isinstance(tool, CodeInterpreterTool):
            if "code_interpreter" in kinds:
                continue
            code = resources.code_interpreter if resources else None
            files = code.file_ids if code else []
            container = AutoContainer(type="auto", file_ids=list(files) or None)
            tools.append(CodeInterpreterToolParam(type="code_interpreter", container=container))
        elif isinstance(tool, FileSearchTool):
            if "file_search" in kinds:
                continue
            search = resources.file_search if resources else None
            stores = search.vector_store_ids if search else []
            options = tool.file_search
            ranking = options.ranking_options if options else None
            tools.append(
                FileSearchToolParam(
                    type="file_search",
                    vector_store_ids=list(stores),
                    max_num_results=options.max_num_results if options else None,
                    ranking_options=FileSearchRanking(
                        ranker=ranking.ranker, score_threshold=ranking.score_threshold
                    )
                    if ranking
                    else None,
                )
            )
        elif tool.function.name not in names:
            function = tool.function
            tools.append(
                FunctionToolParam(
                    type="function",
                    name=function.name,
                    description=function.description,
                    parameters=function.parameters,
                    strict=function.strict or None,
                )
            )
    return tools + list(given)


def _text(assistant: Assistant) -> TextConfig | None:
    fmt = assistant.response_format
    if isinstance(fmt, ResponseFormatJsonObject):
        return TextConfig(format=FormatJsonObject(type="json_object"))
    if isinstance(fmt, ResponseFormatJsonSchema):
        spec = fmt.json_schema
        return TextConfig(
            format=FormatJsonSchema(
                type="json_schema",
                name=spec.name,
                schema_=spec.schema_ or {},
                description=spec.description,
                strict=spec.strict,
            )
        )
    return None
