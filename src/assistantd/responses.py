"""Responses built straight from what we hold: JSON from our schemas (no re-validation, one
serialisation), and event streams of frames encoded already."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable
from typing import Protocol

import anyio
from sse_starlette import EventSourceResponse
from starlette.responses import Response
from starlette.types import Send

log = logging.getLogger(__name__)

STREAM_HEADERS = {"Cache-Control": "no-cache"}


class Serialisable(Protocol):
    """A schema, or anything that renders its JSON the same way (e.g. db.documents.RawPage)."""

    def model_dump_json(self) -> str: ...


class ObjectResponse(Response):
    media_type = "application/json"

    def __init__(
        self, obj: Serialisable, *, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(obj.model_dump_json().encode(), status_code=status_code, headers=headers)


class EventStream(EventSourceResponse):
    """A run's SSE frames (bytes, encoded once by the broker) as sse-starlette serves them:
    its headers, keep-alive comments, client-disconnect and server-shutdown handling, HEAD.

    Only the per-frame path is its own: sse-starlette wraps each send in a cancel scope (for a
    send timeout, which we never set), copies the bytes and formats a debug log line, ~6 µs per
    frame, once per streamed token. Here a frame is one ASGI send; a failed send still closes
    the frames' iterator first, within the cleanup timeout, as sse-starlette does.
    """

    def __init__(self, frames: AsyncIterable[bytes]) -> None:
        super().__init__(frames, headers=STREAM_HEADERS)
        self._frames = frames

    async def _stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        try:
            async for frame in self._frames:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
        except BaseException:
            aclose = getattr(self._frames, "aclose", None)
            if aclose is not None:
                with anyio.move_on_after(self._cleanup_timeout, shield=True):
                    try:
                        await aclose()
                    except Exception:
                        log.exception("closing a stream's frames failed")
            raise
        async with self._send_lock:
            self.active = False
            await send({"type": "http.response.body", "body": b"", "more_body": False})
