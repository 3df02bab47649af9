"""Incremental Server-Sent-Events decoder for upstream responses.

Fed raw bytes in arbitrary pieces, it returns the `data` payload of every completed event.
Handles `\\n`, `\\r\\n` and `\\r` line ends split anywhere, comment lines (`: ping`), other
fields (`event:`, `id:`, `retry:`), multi-line data (joined with `\\n`), and a field without
the optional space after the colon.
"""

from __future__ import annotations


class SSEDecoder:
    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._pending_cr = False  # the last piece ended in `\r`: a following `\n` belongs to it

    def feed(self, piece: bytes) -> list[bytes]:
        """Consume bytes; return the data payloads of the events completed by them."""
        if self._pending_cr and piece.startswith(b"\n"):
            piece = piece[1:]
        self._pending_cr = piece.endswith(b"\r")
        buffer = self._buffer + piece
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._buffer = buffer.split(b"\n")
        events: list[bytes] = []
        for line in lines:
            self._line(line, events)
        return events

    def flush(self) -> list[bytes]:
        """End of stream: an unterminated final event is still delivered."""
        events: list[bytes] = []
        if self._buffer:
            self._line(self._buffer, events)
            self._buffer = b""
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[bytes]) -> None:
        if not line:  # blank line: dispatch
            if self._data:
                events.append(b"\n".join(self._data))
                self._data = []
            return
        if line.startswith(b":"):
            return  # comment / keep-alive
        field, _, value = line.partition(b":")
        if field == b"data":
            self._data.append(value[1:] if value.startswith(b" ") else value)
