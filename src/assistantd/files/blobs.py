"""Where bytes live: uploaded files, sandbox outputs, the files that follow a thread's /mnt/data.

`LocalBlobStore` keeps them under the data dir (the default: one node). `S3BlobStore`
(`files/s3.py`) keeps them in an S3-compatible bucket that every node reaches (S3, MinIO,
Garage, R2). Both raise the two errors below, which render as OpenAI error objects wherever
they reach a request: a missing object is a 404, an unreachable store a 503, never a 500.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from assistantd.errors import NotFoundError, ServiceUnavailableError

if TYPE_CHECKING:
    from assistantd.settings import Settings

CHUNK = 1024 * 1024


class BlobMissingError(NotFoundError):
    """The object is not in the store (deleted behind our back, or never written)."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"The content of '{key}' is missing from the file storage.",
            param="file_id",
            code="file_content_missing",
        )
        self.key = key


class BlobStoreUnavailableError(ServiceUnavailableError):
    """The store could not be reached or refused the request; retrying may help."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"The file storage is unavailable: {detail}")


class BlobStore(Protocol):
    async def put(self, key: str, source: BinaryIO) -> int:
        """Store the stream under `key` (read in chunks, never whole); return its size."""
        ...

    async def put_bytes(self, key: str, data: bytes) -> int: ...

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        """Open the object (raising `BlobMissingError` now, before any byte is sent) and return
        its chunks."""
        ...

    async def read(self, key: str) -> bytes: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is no error."""
        ...

    async def start(self) -> None:
        """Check the store is usable (and make the bucket when asked to)."""
        ...

    async def close(self) -> None: ...


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        # Keys are server-made ("file-...", "sandbox-thread_..."), never user input; fan out to
        # keep directories small.
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
        try:
            handle = await asyncio.to_thread(self._path(key).open, "rb")
        except FileNotFoundError:
            raise BlobMissingError(key) from None
        except OSError as exc:
            raise BlobStoreUnavailableError(exc.strerror or str(exc)) from exc
        return self._chunks(handle)

    async def _chunks(self, handle: BinaryIO) -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def read(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise BlobMissingError(key) from None
        except OSError as exc:
            raise BlobStoreUnavailableError(exc.strerror or str(exc)) from exc

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


def make_blob_store(settings: Settings) -> BlobStore:
    """The store the settings name: the data dir's `files/` unless `ASSISTANTD_BLOB_STORE=s3`."""
    if settings.blob_store == "s3":
        from assistantd.files.s3 import S3BlobStore  # boto3 loads only when it is used

        return S3BlobStore.from_settings(settings)
    return LocalBlobStore(settings.data_dir / "files")
