"""A pure ASGI middleware that refuses request bodies over a size limit before they are read
into memory: JSON bodies have one limit, file uploads (POST /files) another."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistantd.errors import InvalidRequestError

UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries and the purpose field


class BodyLimit:
    def __init__(self, app: ASGIApp, *, json_limit: int, upload_limit: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit + UPLOAD_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        is_upload = scope["path"].rstrip("/").endswith("/files")
        limit = self.upload_limit if is_upload else self.json_limit
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _too_large(limit, send)
                return
        await self.app(scope, _counting(receive, limit), send)


class BodyTooLarge(Exception):
    pass


def _counting(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
        return message

    return wrapped


def too_large_error(limit: int) -> InvalidRequestError:
    return InvalidRequestError(
        f"The request body is too large; the limit is {limit} bytes.", code="request_too_large"
    )


async def _too_large(limit: int, send: Send) -> None:
    response = too_large_error(limit).response()
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
