"""Raw SSE frames from our API, and their validation against the spec's stream components."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
import orjson

from tests.support.spec import spec, validate_component

COMPONENT_BY_PREFIX: list[tuple[str, str]] = [
    ("thread.run.step.delta", "RunStepDeltaObject"),
    ("thread.run.step.", "RunStepObject"),
    ("thread.message.delta", "MessageDeltaObject"),
    ("thread.message.", "MessageObject"),
    ("thread.run.", "RunObject"),
    ("thread.created", "ThreadObject"),
    ("error", "Error"),
]


def frames(lines: Iterable[str]) -> list[tuple[str, str]]:
    """(event, data) pairs of an SSE stream; comments and ids are skipped."""
    out: list[tuple[str, str]] = []
    event, data = "", list[str]()
    for line in lines:
        if not line:
            if event or data:
                out.append((event, "\n".join(data)))
            event, data = "", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if event or data:
        out.append((event, "\n".join(data)))
    return out


def post_stream(http: httpx.Client, path: str, body: dict[str, Any]) -> list[tuple[str, Any]]:
    """POST with stream=true; every frame's data parsed (and `[DONE]` kept as a string)."""
    with http.stream("POST", path, json={**body, "stream": True}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = frames(response.iter_lines())
    return [(name, data if data == "[DONE]" else orjson.loads(data)) for name, data in raw]


def validate_events(events: list[tuple[str, Any]]) -> list[str]:
    """Validate each event's payload against its spec component; the final frame is `done`."""
    assert events and events[-1] == ("done", "[DONE]"), events[-3:]
    checked = []
    for name, data in events[:-1]:
        component = next(c for prefix, c in COMPONENT_BY_PREFIX if name.startswith(prefix))
        validate_component(component, data)
        checked.append(component)
    return checked


def response_event_components() -> dict[str, str]:
    """Responses stream event type (`response.output_text.delta`) -> its spec component."""
    schemas = spec()["components"]["schemas"]
    found: dict[str, str] = {}
    for member in schemas["ResponseStreamEvent"]["anyOf"]:
        name = member["$ref"].rsplit("/", 1)[-1]
        for kind in schemas[name]["properties"]["type"].get("enum", []):
            found[kind] = name
    return found


def validate_response_events(events: list[tuple[str, Any]]) -> list[str]:
    """Each Responses stream event against its component; `sequence_number`s count from 0; the
    SSE event name is the payload's `type`."""
    components = response_event_components()
    checked = []
    for position, (name, data) in enumerate(events):
        assert name == data["type"], (name, data)
        assert data["sequence_number"] == position, (position, data)
        validate_component(components[data["type"]], data)
        checked.append(data["type"])
    return checked
