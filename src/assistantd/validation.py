"""Turning request validation failures into OpenAI's 400 `invalid_request_error` with `param`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assistantd.errors import InvalidRequestError

INVALID_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
    "your HTTP library correctly. The API expects a JSON payload, but what was sent was not "
    "valid JSON.)"
)

# pydantic error type -> (OpenAI-style code, wording)
_CODES: dict[str, str] = {
    "missing": "missing_required_parameter",
    "string_too_long": "string_above_max_length",
    "string_too_short": "string_below_min_length",
    "too_long": "array_above_max_length",
    "too_short": "array_below_min_length",
    "greater_than_equal": "below_min_value",
    "greater_than": "below_min_value",
    "less_than_equal": "above_max_value",
    "less_than": "above_max_value",
    "literal_error": "invalid_value",
    "enum": "invalid_value",
    "union_tag_invalid": "invalid_value",
    "string_pattern_mismatch": "invalid_value",
}


def param_path(loc: Sequence[Any], body: Any, *, missing: bool = True) -> str | None:
    """('body', 'tools', 0, 'function', 'function', 'name') -> 'tools[0].function.name'.

    pydantic puts union branch names ('str', 'list[...]') and discriminator tags into `loc`;
    walking the request body alongside tells real keys and indexes from those.
    """
    if loc and loc[0] != "body":  # query and path parameters are flat
        return ".".join(str(part) for part in loc[1:]) or None
    path, node = "", body
    for index, part in enumerate(loc[1:]):
        is_last = index == len(loc) - 2
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            path, node = path + f"[{part}]", node[part]
        elif isinstance(node, dict) and part in node:
            path, node = (f"{path}.{part}" if path else str(part)), node[part]
        elif missing and is_last and isinstance(node, dict) and not str(part).endswith("]"):
            path = f"{path}.{part}" if path else str(part)  # a missing field
    return path or None


def to_api_error(errors: Sequence[dict[str, Any]], body: Any = None) -> InvalidRequestError:
    first = _most_useful(errors)
    kind = first.get("type", "")
    if kind == "json_invalid":
        return InvalidRequestError(INVALID_JSON)
    param = param_path(first.get("loc", ()), body, missing=kind == "missing")
    if kind == "missing":
        return InvalidRequestError(
            f"Missing required parameter: '{param}'.",
            param=param,
            code="missing_required_parameter",
        )
    if kind == "model_attributes_type" and param is None:
        return InvalidRequestError("The request body must be a JSON object.", code="invalid_type")
    if kind in ("union_tag_invalid", "union_tag_not_found"):  # name the tag: `tools[0].type`
        tag = str(first.get("ctx", {}).get("discriminator", "")).strip("'")
        param = f"{param}.{tag}" if param and tag.isidentifier() else param or tag or None
    code = _CODES.get(kind) or ("invalid_type" if kind.endswith("_type") else "invalid_value")
    message = (
        f"Invalid '{param}': {first.get('msg', 'invalid value')}."
        if param
        else (f"Invalid request: {first.get('msg', 'invalid value')}.")
    )
    return InvalidRequestError(message, param=param, code=code)


def _most_useful(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Of a union's many branch errors, prefer a missing field, then the deepest location."""
    for error in errors:
        if error.get("type") == "json_invalid":
            return error
    return max(
        errors, key=lambda error: (error.get("type") == "missing", len(error.get("loc", ())))
    )
