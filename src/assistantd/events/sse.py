"""The one place Server-Sent-Events frames are encoded.

A frame is `event: <name>\\ndata: <compact one-line json>\\n\\n`; every stream ends with
`DONE_FRAME`. Objects are dumped with all their keys (explicit nulls); delta events are dumped
with `exclude_none` so they carry only what changed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from assistantd.events.models import StreamEvent, TextIncrement

DONE_FRAME = b"event: done\ndata: [DONE]\n\n"


def keepalive_frame() -> bytes:
    """An SSE comment, ignored by every SDK decoder, that keeps idle connections and proxies
    alive: sse-starlette's ping byte for byte (`: ping - <UTC time>`, CRLF-separated, as its
    response's ping loop sent it before the subscriptions sent the keep-alives)."""
    return b": ping - " + str(datetime.now(UTC)).encode() + b"\r\n\r\n"


def encode(event: StreamEvent) -> bytes:
    """Encode one event as an SSE frame (bytes, ready to write)."""
    if event.event == "done":
        return DONE_FRAME
    data = event.data
    if type(data) is TextIncrement:  # one per token: written directly
        payload = data.json()
    else:
        payload = data.__pydantic_serializer__.to_json(data, exclude_none=event.sparse)
    return b"event: " + event.event.encode() + b"\ndata: " + payload + b"\n\n"
