"""Request bodies: JSON parsed and validated as strictly as OpenAI does, at the door.

`json_body(Model)` is the FastAPI dependency every JSON route takes its body from. It
- parses the JSON and rejects what no store can hold: non-finite numbers (`NaN`, `Infinity`,
  `1e999`) and integers outside 64 bits, anywhere in the body (free-form `parameters`,
  `json_schema` and `attributes` included);
- validates in pydantic's strict mode (no coercion: `"0.5"` is not a number, `"yes"` not a
  boolean), then walks the validated models alongside the JSON: a key no model declares, at
  any depth, is a 400 `unknown_parameter` naming its exact path (`tools[0].foo`), as OpenAI's.
  Walking the result rather than refusing extras inside pydantic keeps the path exact (pydantic
  puts union tags into error locations) and keeps stored objects, read with the same schemas,
  tolerant of keys an older version wrote;
- picks the model for the API version the client speaks: `OpenAI-Beta: assistants=v1` selects
  the `v1=` model when a route has one (v1-only fields such as `file_ids` live there), else the
  v2 model serves both.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from assistantd.auth import Project
from assistantd.errors import InvalidRequestError
from assistantd.validation import INVALID_JSON, to_api_error

M = TypeVar("M", bound=BaseModel)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def api_version(request: Request) -> str:
    """'v1' when the client sends `OpenAI-Beta: assistants=v1`, else 'v2'."""
    beta = request.headers.get("openai-beta", "")
    return "v1" if "assistants=v1" in beta.replace(" ", "") else "v2"


class _Unstorable:
    """What the parser puts where a number no store can hold was, so the walk can name it."""

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem


_NOT_FINITE = _Unstorable("must be a finite number")
_TOO_BIG = _Unstorable("is outside the range of a 64-bit integer")


def _parse_float(token: str) -> float | _Unstorable:
    value = float(token)
    return value if math.isfinite(value) else _NOT_FINITE  # 1e999


def _parse_int(token: str) -> int | _Unstorable:
    value = int(token)
    return value if INT64_MIN <= value <= INT64_MAX else _TOO_BIG


def parse_json(raw: bytes) -> Any:
    """The body as Python values (`{}` if empty); a 400 for malformed JSON or numbers no store
    can hold.

    The stdlib parser is used for its hooks: orjson silently turns integers past 64 bits into
    floats, so they could not be told from floats afterwards.
    """
    try:
        data = json.loads(
            raw or b"{}",
            parse_float=_parse_float,
            parse_int=_parse_int,
            parse_constant=lambda _token: _NOT_FINITE,  # NaN, Infinity, -Infinity
        )
    except (ValueError, RecursionError):
        raise InvalidRequestError(INVALID_JSON) from None
    check_values(data)
    return data


def check_values(node: Any) -> None:
    """Raise a 400 naming the first unstorable number or broken string (a lone surrogate, which
    no UTF-8 store takes) under the parsed `node`."""
    stack: list[tuple[Any, str]] = [(node, "")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                path = f"{where}.{key}" if where else key
                _check_string(key, path)
                stack.append((item, path))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_string(value, where)
        elif isinstance(value, _Unstorable):
            raise InvalidRequestError(
                f"Invalid '{where or 'body'}': the number {value.problem}.",
                param=where or None,
                code="invalid_value",
            )


def _check_string(value: str, where: str) -> None:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequestError(INVALID_JSON, param=where or None) from None


def validate_body(model: type[M], data: Any, *, version: str = "v2") -> M:
    """Strict validation of parsed JSON against `model`, errors as OpenAI's 400."""
    try:
        parsed = model.model_validate(
            data, strict=True, context={"request": True, "api_version": version}
        )
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise to_api_error(errors, data) from None
    unknown = _unknown_key(parsed, data, "")
    if unknown is not None:
        raise InvalidRequestError(
            f"Unknown parameter: '{unknown}'.", param=unknown, code="unknown_parameter"
        )
    return parsed


_KEYS: dict[type[BaseModel], dict[str, str]] = {}


def _keys(model: type[BaseModel]) -> dict[str, str]:
    """JSON key -> attribute name of a model's fields (the alias only, when it has one)."""
    keys = _KEYS.get(model)
    if keys is None:
        keys = _KEYS[model] = {f.alias or name: name for name, f in model.model_fields.items()}
    return keys


def _unknown_key(value: Any, data: Any, path: str) -> str | None:
    """The path of the first key in `data` that the validated `value` has no field for."""
    if isinstance(value, BaseModel) and isinstance(data, dict):
        if type(value).model_config.get("extra") == "allow":
            return None  # a subtree that takes any keys (items given back from SDK output)
        keys = _keys(type(value))
        for key, item in data.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in keys:
                return where
            found = _unknown_key(getattr(value, keys[key]), item, where)
            if found is not None:
                return found
    elif isinstance(value, list) and isinstance(data, list):
        for index, (element, item) in enumerate(zip(value, data, strict=False)):
            found = _unknown_key(element, item, f"{path}[{index}]")
            if found is not None:
                return found
    elif isinstance(value, dict) and isinstance(data, dict):
        for key, item in data.items():
            if key in value:
                found = _unknown_key(value[key], item, f"{path}.{key}")
                if found is not None:
                    return found
    return None


class JsonBody:
    """The dependency behind `json_body`; authentication runs first (a bad key is a 401)."""

    def __init__(
        self, model: type[BaseModel], v1: type[BaseModel] | None = None, *, required: bool = True
    ) -> None:
        self.models = {"v2": model, "v1": v1 or model}
        self.required = required

    async def __call__(self, request: Request, _project: Project) -> Any:
        version = api_version(request)
        raw = await request.body()
        if self.required and not raw.strip():
            raise InvalidRequestError(
                "The request body must be a JSON object; none was sent.", code="invalid_type"
            )
        return validate_body(self.models[version], parse_json(raw), version=version)


def json_body(
    model: type[BaseModel], *, v1: type[BaseModel] | None = None, required: bool = True
) -> Any:
    """`body: Annotated[Model, json_body(Model)]`: the strictly validated JSON body (one must
    be sent unless `required=False`, as OpenAI's spec says per operation)."""
    return Depends(JsonBody(model, v1, required=required))
