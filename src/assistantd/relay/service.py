"""Relaying a request to the upstream: checks that make a bad body a 400 of ours, the answer
passed through (streamed byte for byte), upstream failures in OpenAI's error envelope.

Upstream errors keep their status when they are the caller's business (400, 404 unknown
model, 413, 422, 429 after our retries); a failing or unreachable upstream, or one that refuses
our own credentials (401/403: the operator's configuration), is a 502 `server_error`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from starlette.responses import Response, StreamingResponse

from assistantd.errors import InvalidRequestError
from assistantd.upstream import UpstreamClient, UpstreamError
from assistantd.validation import INVALID_JSON

BAD_GATEWAY = 502


def parse_body(raw: bytes, required: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object of a relayed request; `model` must be a string, `required` present."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequestError(INVALID_JSON) from None
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.", code="invalid_type")
    for name in ("model", *required):
        if body.get(name) is None:
            raise InvalidRequestError(
                f"Missing required parameter: '{name}'.",
                param=name,
                code="missing_required_parameter",
            )
    if not isinstance(body["model"], str):
        raise InvalidRequestError(
            "Invalid 'model': expected a string.", param="model", code="invalid_type"
        )
    return body


async def chat_completions(upstream: UpstreamClient, raw: bytes) -> Response:
    """`POST /chat/completions`, checked, relayed (streamed when the body asks)."""
    body = parse_body(raw, ("messages",))
    return await relay(upstream, "/chat/completions", raw, stream=body.get("stream") is True)


async def embeddings(upstream: UpstreamClient, raw: bytes) -> Response:
    """`POST /embeddings`, checked, relayed."""
    parse_body(raw, ("input",))
    return await relay(upstream, "/embeddings", raw, stream=False)


async def relay(upstream: UpstreamClient, path: str, raw: bytes, *, stream: bool) -> Response:
    try:
        response = await upstream.relay(path, raw)
    except UpstreamError as error:
        return error_response(error)
    if not stream:
        try:
            content = await response.aread()
        except httpx.HTTPError as exc:
            return _envelope(BAD_GATEWAY, f"The model server's response broke off: {exc!r}")
        finally:
            await response.aclose()
        media_type = response.headers.get("content-type", "application/json")
        return Response(content, status_code=response.status_code, media_type=media_type)
    return StreamingResponse(_passthrough(response), media_type="text/event-stream")


async def _passthrough(response: httpx.Response) -> AsyncIterator[bytes]:
    """The upstream's SSE bytes as they arrive; a failure mid-stream becomes an error event
    (the status is already sent), which the SDKs raise as an APIError."""
    try:
        async for piece in response.aiter_raw():
            yield piece
    except httpx.HTTPError as exc:
        error = _error_body(f"The model server's stream broke off: {exc!r}", "server_error")
        yield b"\n\ndata: " + orjson.dumps(error) + b"\n\n"
    finally:
        await response.aclose()


def error_response(error: UpstreamError) -> Response:
    status = error.status
    if status is None or status >= 500 or status in (401, 403, 408):
        return _envelope(BAD_GATEWAY, error.message)
    said = _upstream_error(error.body)
    if said is None:
        return _envelope(status, error.message, kind="invalid_request_error")
    return Response(orjson.dumps({"error": said}), status, media_type="application/json")


def _upstream_error(body: bytes | None) -> dict[str, Any] | None:
    """The upstream's own error, when it sent OpenAI's envelope (normalised to its four keys)."""
    try:
        data = orjson.loads(body or b"")
    except orjson.JSONDecodeError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return None
    return {
        "message": error["message"],
        "type": error.get("type") or "invalid_request_error",
        "param": error.get("param"),
        "code": error.get("code"),
    }


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _envelope(status: int, message: str, *, kind: str = "server_error") -> Response:
    return Response(orjson.dumps(_error_body(message, kind)), status, media_type="application/json")
