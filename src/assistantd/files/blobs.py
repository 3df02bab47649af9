"""Where file bytes live. `LocalBlobStore` keeps them under the data dir; an S3-compatible store
can implement the same protocol later."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024


class BlobStore(Protocol):
    async def put(self, key: str, source: BinaryIO) -> int:
        """Store the stream under `key`; return its size in bytes."""
        ...

    async def put_bytes(self, key: str, data: bytes) -> int: ...

    def stream(self, key: str) -> AsyncIterator[bytes]: ...

    async def read(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        # Keys are server-made ids ("file-..."), never user input; fan out to keep dirs small.
        return self.root / key[-2:] / key

    async def put(self, key: str, source: BinaryIO) -> int:
        return await asyncio.to_thread(self._put_sync, key, source)

    def _put_sync(self, key: str, source: BinaryIO) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        with partial.open("wb") as target:
            shutil.copyfileobj(source, target, CHUNK)
        os.replace(partial, path)  # a file is visible only once complete
        return path.stat().st_size

    async def put_bytes(self, key: str, data: bytes) -> int:
        return await self.put(key, io.BytesIO(data))

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._path(key).open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def read(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)
