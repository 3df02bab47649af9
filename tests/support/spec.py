"""OpenAI's OpenAPI spec as a response validator (the contract oracle).

The spec is OAS 3.1 but still uses the 3.0 keyword `nullable: true` in 111 places, which a 3.1
validator ignores; we turn it into a "null" type member first. One deliberate deviation: list
responses may carry `first_id`/`last_id` null when `data` is empty, as the live API did (the
spec types them as plain strings).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# Vendored with its source and licence noted in tests/data/README.md.
SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "openai-openapi.yaml"


def _denull(node: Any) -> Any:
    if isinstance(node, list):
        return [_denull(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _denull(value) for key, value in node.items()}
    if node.pop("nullable", False) is True:
        kind = node.get("type")
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
        elif isinstance(kind, list):
            node["type"] = [*kind, "null"] if "null" not in kind else kind
        else:
            return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def spec() -> dict[str, Any]:
    with SPEC_PATH.open("rb") as handle:
        document = yaml.load(handle, Loader=yaml.CSafeLoader)
    document = _denull(document)
    for name, schema in document["components"]["schemas"].items():
        if (name.startswith("List") and name.endswith("Response")) or name.endswith("ItemList"):
            for key in ("first_id", "last_id"):
                if key in schema.get("properties", {}):
                    schema["properties"][key] = {"type": ["string", "null"]}
    return document


@functools.cache
def _registry() -> Registry:
    resource = Resource.from_contents(spec(), default_specification=DRAFT202012)
    return Registry().with_resource("urn:openai-spec", resource)


def validate_component(name: str, instance: Any) -> None:
    """Raise jsonschema's ValidationError if `instance` is not a valid `components/schemas/name`."""
    schema = {"$ref": f"urn:openai-spec#/components/schemas/{name}"}
    validator = OAS31Validator(schema, registry=_registry())
    error = next(iter(validator.iter_errors(instance)), None)
    if error is not None:
        raise error


@functools.cache
def _routes() -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path regex, component name of the 200 JSON response) for every operation."""
    routes = []
    for path, operations in spec()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            content = operation["responses"].get("200", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                routes.append((method.upper(), pattern, ref.rsplit("/", 1)[-1]))
    # Literal paths before templated ones (/threads/runs before /threads/{thread_id}).
    routes.sort(key=lambda route: route[1].pattern.count("[^/]+"))
    return routes


def response_component(method: str, path: str) -> str | None:
    for route_method, pattern, component in _routes():
        if route_method == method and pattern.match(path):
            return component
    return None


def validate_response(method: str, path: str, body: Any) -> str | None:
    """Validate a JSON response body for `method path` (path without the /v1 prefix).

    Returns the component name checked, or None when the spec has no JSON schema for it.
    """
    component = response_component(method, path)
    if component is not None:
        validate_component(component, body)
    return component


__all__ = ["ValidationError", "spec", "validate_component", "validate_response"]
