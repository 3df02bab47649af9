"""The v1 object schemas (tests/data/assistants-v1-schemas.json, source in tests/data/README.md)
as a validator for what the server answers under `OpenAI-Beta: assistants=v1`."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "assistants-v1-schemas.json"


@functools.cache
def _document() -> dict[str, Any]:
    return json.loads(SCHEMAS.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def validate_v1(name: str, instance: Any) -> None:
    """Raise jsonschema's ValidationError unless `instance` is a valid v1 `name`."""
    schema = {**_document(), "$ref": f"#/$defs/{name}"}
    Draft202012Validator(schema).validate(instance)
