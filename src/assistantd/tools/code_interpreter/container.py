"""One running sandbox container as seen from the host: its attached socket and reader task.

Owns the byte level: Docker's 8-byte stream headers (stdout=1, stderr=2) on the attach socket,
protocol frames inside stdout, and fan-out of supervisor events to `ready`/`warm` futures and a
queue the current call reads. It does not create or remove containers (`engine.py` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from pathlib import Path
from typing import Any

from .runtime import protocol

log = logging.getLogger(__name__)

STREAM_HEADER = struct.Struct(">BxxxI")
Event = tuple[dict[str, Any], bytes]


def close_attach(attach: Any) -> None:
    """Close docker-py's attach object *and* its socket (closing the SocketIO alone doesn't)."""
    with contextlib.suppress(OSError):
        getattr(attach, "_sock", attach).close()
    with contextlib.suppress(Exception):
        attach.close()


class ContainerGone(Exception):
    """The container's attach stream ended (it died, was killed, or removed)."""


class Container:
    def __init__(self, container_id: str, name: str, attach: Any, mount_dir: Path) -> None:
        self.id = container_id
        self.name = name
        self.mount_dir = mount_dir
        self._attach = attach  # keeps docker-py's response (and so the socket) alive
        sock: socket.socket = getattr(attach, "_sock", attach)
        sock.setblocking(False)
        self._sock = sock
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.warm: asyncio.Future[None] = loop.create_future()
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.alive = True
        self.busy = False
        self._closing = False
        self._stderr = b""
        self.created_at = time.monotonic()
        self.last_used = self.created_at
        self._reader = loop.create_task(self._read_loop(), name=f"sandbox-reader-{name}")

    async def send(self, message: dict[str, Any]) -> None:
        if not self.alive:
            raise ContainerGone(self.name)
        try:
            await asyncio.get_running_loop().sock_sendall(self._sock, protocol.encode(message))
        except OSError as exc:
            self._gone()
            raise ContainerGone(self.name) from exc

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        buf = bytearray()
        frames = protocol.FrameReader()
        try:
            while True:
                data = await loop.sock_recv(self._sock, 1 << 20)
                if not data:
                    break
                buf += data
                while len(buf) >= STREAM_HEADER.size:
                    stream, size = STREAM_HEADER.unpack_from(buf)
                    if len(buf) < STREAM_HEADER.size + size:
                        break
                    chunk = bytes(buf[STREAM_HEADER.size : STREAM_HEADER.size + size])
                    del buf[: STREAM_HEADER.size + size]
                    if stream == 1:
                        for event in frames.feed(chunk):
                            self._dispatch(event)
                    else:  # the supervisor's own stderr: kept for the death report
                        self._stderr = (self._stderr + chunk)[-4000:]
        except (OSError, protocol.ProtocolError) as exc:
            log.warning("sandbox %s stream ended: %s", self.name, exc)
        finally:
            if self.alive and not self._closing:
                log.warning("sandbox %s ended; stderr: %r", self.name, self._stderr[-2000:])
            self._gone()

    def _dispatch(self, event: Event) -> None:
        ev = event[0].get("ev")
        if ev == "ready":
            if not self.ready.done():
                self.ready.set_result(None)
        elif ev == "warm":
            if not self.warm.done():
                self.warm.set_result(None)
        else:
            self.queue.put_nowait(event)

    def _gone(self) -> None:
        if not self.alive:
            return
        self.alive = False
        for future in (self.ready, self.warm):
            if not future.done():
                future.set_exception(ContainerGone(self.name))
                future.exception()  # mark retrieved: nobody may be waiting
        self.queue.put_nowait(None)

    async def close(self) -> None:
        """Stop reading and close the socket (the container itself is removed elsewhere)."""
        self._closing = True
        self._gone()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        close_attach(self._attach)
