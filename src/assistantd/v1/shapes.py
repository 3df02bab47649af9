"""v2 objects shown in v1's shapes (the v1 spec, openai-openapi commit a20659d, 2024-04-15).

Functions take our stored (v2) objects and return plain JSON-ready dicts; `frame` does the
same for one SSE frame of a run's stream.
"""

from __future__ import annotations

from typing import Any

import orjson

from assistantd.assistants.schemas import Assistant
from assistantd.messages.schemas import Message
from assistantd.run_steps.schemas import RunStep
from assistantd.runs.schemas import Run
from assistantd.schemas import Tool
from assistantd.threads.schemas import Thread


def tool(item: Tool | dict[str, Any]) -> dict[str, Any]:
    raw = item if isinstance(item, dict) else item.model_dump(mode="json")
    if raw["type"] == "file_search":
        return {"type": "retrieval"}
    if raw["type"] == "function":
        function = raw["function"]
        return {
            "type": "function",
            "function": {
                key: function[key]
                for key in ("name", "description", "parameters")
                if function.get(key) is not None
            },
        }
    return {"type": raw["type"]}


def assistant_file_ids(assistant: Assistant | None) -> list[str]:
    resources = assistant.tool_resources if assistant is not None else None
    if resources is None or resources.code_interpreter is None:
        return []
    return list(resources.code_interpreter.file_ids)


def assistant(obj: Assistant) -> dict[str, Any]:
    return {
        "id": obj.id,
        "object": "assistant",
        "created_at": obj.created_at,
        "name": obj.name,
        "description": obj.description,
        "model": obj.model,
        "instructions": obj.instructions,
        "tools": [tool(item) for item in obj.tools],
        "file_ids": assistant_file_ids(obj),
        "metadata": obj.metadata,
    }


def thread(obj: Thread | dict[str, Any]) -> dict[str, Any]:
    raw = obj if isinstance(obj, dict) else obj.model_dump(mode="json")
    return {key: raw.get(key) for key in ("id", "object", "created_at", "metadata")}


def _annotation(raw: dict[str, Any]) -> dict[str, Any]:
    if raw.get("type") == "file_citation" and "file_citation" in raw:
        citation = dict(raw["file_citation"] or {})
        if "file_id" in citation:  # a whole annotation (deltas may carry only a part)
            citation.setdefault("quote", "")
            citation["quote"] = citation["quote"] or ""
        return {**raw, "file_citation": citation}
    return raw


def _content(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shown = []
    for part in parts:
        if part.get("type") not in ("text", "image_file"):
            continue  # v1 messages hold text and image files only
        if part["type"] == "text" and isinstance(part.get("text"), dict):
            text = part["text"]
            if "annotations" in text:
                text = {**text, "annotations": [_annotation(a) for a in text["annotations"]]}
            part = {**part, "text": text}
        shown.append(part)
    return shown


def message(obj: Message | dict[str, Any]) -> dict[str, Any]:
    raw = obj if isinstance(obj, dict) else obj.model_dump(mode="json")
    return {
        "id": raw["id"],
        "object": "thread.message",
        "created_at": raw["created_at"],
        "thread_id": raw["thread_id"],
        "status": raw.get("status", "completed"),
        "incomplete_details": raw.get("incomplete_details"),
        "completed_at": raw.get("completed_at"),
        "incomplete_at": raw.get("incomplete_at"),
        "role": raw["role"],
        "content": _content(raw.get("content") or []),
        "assistant_id": raw.get("assistant_id"),
        "run_id": raw.get("run_id"),
        "file_ids": list(dict.fromkeys(a["file_id"] for a in raw.get("attachments") or [])),
        "metadata": raw.get("metadata"),
    }


def message_file(file_id: str, obj: Message) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "thread.message.file",
        "created_at": obj.created_at,
        "message_id": obj.id,
    }


def assistant_file(file_id: str, assistant_id: str, created_at: int) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "assistant.file",
        "created_at": created_at,
        "assistant_id": assistant_id,
    }


def _tool_choice(choice: Any) -> Any:
    if choice == "required":
        return "auto"  # v1 has none|auto only
    if isinstance(choice, dict) and choice.get("type") == "file_search":
        return {"type": "retrieval"}
    return choice


def run(obj: Run | dict[str, Any], file_ids: list[str]) -> dict[str, Any]:
    raw = obj if isinstance(obj, dict) else obj.model_dump(mode="json")
    status = raw["status"]
    completed_at = raw.get("completed_at")
    if status == "incomplete":  # v1 reports a token-limited run as completed + details
        status = "completed"
        completed_at = completed_at or raw.get("started_at") or raw["created_at"]
    return {
        "id": raw["id"],
        "object": "thread.run",
        "created_at": raw["created_at"],
        "thread_id": raw["thread_id"],
        "assistant_id": raw["assistant_id"],
        "status": status,
        "required_action": raw.get("required_action"),
        "last_error": raw.get("last_error"),
        "expires_at": raw.get("expires_at"),
        "started_at": raw.get("started_at"),
        "cancelled_at": raw.get("cancelled_at"),
        "failed_at": raw.get("failed_at"),
        "completed_at": completed_at,
        "incomplete_details": raw.get("incomplete_details"),
        "model": raw["model"],
        "instructions": raw.get("instructions") or "",
        "tools": [tool(item) for item in raw.get("tools") or []],
        "file_ids": file_ids,
        "metadata": raw.get("metadata"),
        "usage": raw.get("usage"),
        "temperature": raw.get("temperature"),
        "top_p": raw.get("top_p"),
        "max_prompt_tokens": raw.get("max_prompt_tokens"),
        "max_completion_tokens": raw.get("max_completion_tokens"),
        "truncation_strategy": raw.get("truncation_strategy"),
        "tool_choice": _tool_choice(raw.get("tool_choice")),
        "response_format": raw.get("response_format"),
    }


def _tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shown = []
    for call in calls:
        if call.get("type") == "file_search":
            call = {k: v for k, v in call.items() if k != "file_search"}
            call = {**call, "type": "retrieval", "retrieval": {}}
        shown.append(call)
    return shown


def step(obj: RunStep | dict[str, Any]) -> dict[str, Any]:
    raw = obj if isinstance(obj, dict) else obj.model_dump(mode="json")
    details = raw.get("step_details") or {}
    if details.get("type") == "tool_calls":
        raw = {**raw, "step_details": {**details, "tool_calls": _tool_calls(details["tool_calls"])}}
    return raw


def _message_delta(raw: dict[str, Any]) -> dict[str, Any]:
    delta = raw.get("delta") or {}
    if "content" in delta:
        delta = {**delta, "content": _content(delta["content"])}
    return {**raw, "delta": delta}


def _step_delta(raw: dict[str, Any]) -> dict[str, Any]:
    delta = raw.get("delta") or {}
    details = delta.get("step_details") or {}
    if details.get("type") == "tool_calls" and "tool_calls" in details:
        details = {**details, "tool_calls": _tool_calls(details["tool_calls"])}
        delta = {**delta, "step_details": details}
    return {**raw, "delta": delta}


def event(name: str, data: Any, file_ids: list[str]) -> tuple[str, Any]:
    """One stream event (name, payload) in v1's terms."""
    if name == "thread.created":
        return name, thread(data)
    if name == "thread.run.step.delta":
        return name, _step_delta(data)
    if name.startswith("thread.run.step."):
        return name, step(data)
    if name.startswith("thread.run."):
        shown = run(data, file_ids)
        if name == "thread.run.incomplete":  # v1 has no such event
            name = "thread.run.completed"
        return name, shown
    if name == "thread.message.delta":
        return name, _message_delta(data)
    if name.startswith("thread.message."):
        return name, message(data)
    return name, data


def frame(raw: bytes, file_ids: list[str]) -> bytes:
    """An SSE frame (`[id: N\\n]event: X\\ndata: {...}\\n\\n`) in v1's terms; others pass
    unchanged. The `id:` line (resumable streams) is kept as it is."""
    id_line = b""
    if raw.startswith(b"id: "):
        end = raw.find(b"\n") + 1
        id_line, raw = raw[:end], raw[end:]
    if not raw.startswith(b"event: ") or b"\ndata: " not in raw:
        return id_line + raw
    head, _, data = raw.partition(b"\ndata: ")
    name = head[len(b"event: ") :].decode()
    body = data.rstrip(b"\n")
    if not body.startswith(b"{"):
        return id_line + raw  # done: [DONE]
    name, shown = event(name, orjson.loads(body), file_ids)
    return id_line + b"event: " + name.encode() + b"\ndata: " + orjson.dumps(shown) + b"\n\n"
