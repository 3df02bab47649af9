"""`include[]`: the item fields shown only when asked for, as OpenAI does.

A `file_search_call`'s `results` and a `code_interpreter_call`'s `outputs` are null unless
`file_search_call.results` / `code_interpreter_call.outputs` is included. They are always
stored whole (the model reads them on the next turn); only what is shown changes. The other
values of the spec's `IncludeEnum` are accepted: `message.input_image.image_url` (input images
are always shown as given), `message.output_text.logprobs` (on `POST /responses` it asks the
model for them: responses_api/service.py), and those of tools this server does not have.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Request

from assistantd.db.documents import RawPage
from assistantd.errors import InvalidRequestError
from assistantd.items.schemas import CodeInterpreterCallItem, FileSearchCallItem, Item

INCLUDABLE = (
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
)
RESULTS = "file_search_call.results"
OUTPUTS = "code_interpreter_call.outputs"


def check(values: Iterable[str] | None, param: str = "include") -> frozenset[str]:
    given = list(values or [])
    for index, value in enumerate(given):
        if value not in INCLUDABLE:
            raise InvalidRequestError(
                f"Invalid value: '{value}'. Supported values are: "
                + ", ".join(f"'{v}'" for v in INCLUDABLE)
                + ".",
                param=f"{param}[{index}]",
                code="invalid_value",
            )
    return frozenset(given)


async def _from_query(request: Request) -> frozenset[str]:
    """`include[]=a&include[]=b` as the SDKs send it (or `include=a`)."""
    query = request.query_params
    return check([*query.getlist("include[]"), *query.getlist("include")])


Include = Annotated[frozenset[str], Depends(_from_query)]

T = TypeVar("T", bound=Item)


def item(value: T, include: frozenset[str]) -> T:
    if isinstance(value, FileSearchCallItem) and RESULTS not in include and value.results:
        return value.model_copy(update={"results": None})
    if isinstance(value, CodeInterpreterCallItem) and OUTPUTS not in include and value.outputs:
        return value.model_copy(update={"outputs": None})
    return value


def items(values: Sequence[T], include: frozenset[str]) -> list[T]:
    return [item(value, include) for value in values]


def item_json(value: dict[str, Any], include: frozenset[str]) -> dict[str, Any]:
    """The same for an item already in JSON form (stream events)."""
    kind = value.get("type")
    if kind == "file_search_call" and RESULTS not in include and value.get("results"):
        return {**value, "results": None}
    if kind == "code_interpreter_call" and OUTPUTS not in include and value.get("outputs"):
        return {**value, "outputs": None}
    return value


def event_json(event: dict[str, Any], include: frozenset[str]) -> dict[str, Any]:
    """A Responses stream event with its item, or its response's output, shown as asked."""
    if "item" in event and isinstance(event["item"], dict):
        return {**event, "item": item_json(event["item"], include)}
    response = event.get("response")
    if isinstance(response, dict) and response.get("output"):
        output = [item_json(entry, include) for entry in response["output"]]
        return {**event, "response": {**response, "output": output}}
    return event


def raw_page(page: RawPage, include: frozenset[str]) -> RawPage:
    """A page of stored item bodies; only tool-call bodies are parsed (and only when
    something of theirs is hidden)."""
    if RESULTS in include and OUTPUTS in include:
        return page
    bodies = [
        orjson.dumps(item_json(orjson.loads(body), include)).decode()
        if '"file_search_call"' in body or '"code_interpreter_call"' in body
        else body
        for body in page.bodies
    ]
    return RawPage(bodies, page.first_id, page.last_id, page.has_more)
