"""Length-prefixed frames shared by the host, the supervisor and the kernel (stdlib only).

A frame is `>II` (length of a JSON header, length of a binary payload), the UTF-8 JSON object,
then the raw payload (PNG bytes for images, empty otherwise). Binary payloads avoid base64.
"""

from __future__ import annotations

import json
import struct
from typing import Any

HEADER = struct.Struct(">II")
MAX_JSON = 16 * 1024 * 1024
MAX_PAYLOAD = 64 * 1024 * 1024


class ProtocolError(Exception):
    """A frame that is too large or not a JSON object."""


def encode(message: dict[str, Any], payload: bytes = b"") -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(len(body), len(payload)) + body + payload


class FrameReader:
    """Incremental decoder: `feed()` bytes in any chunking, get whole frames out."""

    def __init__(self, max_json: int = MAX_JSON, max_payload: int = MAX_PAYLOAD) -> None:
        self._buf = bytearray()
        self._max_json = max_json
        self._max_payload = max_payload

    def feed(self, data: bytes) -> list[tuple[dict[str, Any], bytes]]:
        self._buf += data
        frames: list[tuple[dict[str, Any], bytes]] = []
        while len(self._buf) >= HEADER.size:
            jlen, plen = HEADER.unpack_from(self._buf)
            if jlen > self._max_json or plen > self._max_payload:
                raise ProtocolError(f"frame too large ({jlen}+{plen} bytes)")
            end = HEADER.size + jlen + plen
            if len(self._buf) < end:
                break
            raw = bytes(self._buf[HEADER.size : HEADER.size + jlen])
            payload = bytes(self._buf[HEADER.size + jlen : end])
            del self._buf[:end]
            try:
                message = json.loads(raw)
            except ValueError as exc:
                raise ProtocolError("frame is not JSON") from exc
            if not isinstance(message, dict):
                raise ProtocolError("frame is not a JSON object")
            frames.append((message, payload))
        return frames
