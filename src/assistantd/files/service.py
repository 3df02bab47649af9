"""Rules for files: upload validation, storage of the bytes, scoping to the project."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from python_multipart.multipart import parse_options_header
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.datastructures import FormData, UploadFile

from assistantd import ids
from assistantd.db.documents import RawPage
from assistantd.db.engine import Database, background
from assistantd.errors import InvalidRequestError, NotFoundError
from assistantd.files import store
from assistantd.files.blobs import BlobStore
from assistantd.files.schemas import (
    BYTES_NOT_EXPORTED,
    UPLOAD_PURPOSES,
    FileDeleted,
    FileObject,
    is_placeholder,
)
from assistantd.pagination import PageParams

MAX_FILENAME = 255
EXPIRY_SECONDS = (3600, 2_592_000)  # `expires_after.seconds`: one hour to 30 days
_FORM_FIELDS = ("file", "purpose", "expires_after[anchor]", "expires_after[seconds]")

log = logging.getLogger(__name__)

FileHolder = Callable[[AsyncConnection, str, str], Awaitable[None]]
"""Something that holds files by id and lets go of a deleted one, in the delete's transaction:
`(conn, project, file_id)`. The vector stores are one (`vector_stores.service.forget_file`);
the lifespan hands them in, so files need nothing of the packages above that hold them."""


def _not_found(file_id: str) -> NotFoundError:
    return NotFoundError(f"No such File object: {file_id}", param="id")


def check_filename(upload: UploadFile) -> str:
    """The upload's file name, or a 400 if it is missing, not UTF-8, or unsafe."""
    raw = b""
    for name, value in upload.headers.raw:
        if name.lower() == b"content-disposition":
            raw = parse_options_header(value)[1].get(b"filename", b"")
    try:
        filename = raw.decode("utf-8") if raw else (upload.filename or "")
    except UnicodeDecodeError:
        raise InvalidRequestError("The file name must be valid UTF-8.", param="file") from None
    filename = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not filename or filename in (".", ".."):
        raise InvalidRequestError("The file must have a name.", param="file")
    if len(filename) > MAX_FILENAME or any(ord(char) < 32 or char == "\x7f" for char in filename):
        raise InvalidRequestError(
            f"The file name must be at most {MAX_FILENAME} printable characters.", param="file"
        )
    return filename


def parse_expiry(form: FormData) -> int | None:
    """`expires_after[anchor]=created_at` with `expires_after[seconds]` (the SDKs' form
    spelling): the seconds until the file expires, or None."""
    anchor, seconds = form.get("expires_after[anchor]"), form.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise InvalidRequestError(
            "Invalid 'expires_after.anchor': expected 'created_at'.",
            param="expires_after.anchor",
            code="invalid_value" if anchor is not None else "missing_required_parameter",
        )
    low, high = EXPIRY_SECONDS
    if not isinstance(seconds, str) or not seconds.isascii() or not seconds.isdigit():
        raise InvalidRequestError(
            "Invalid 'expires_after.seconds': expected an integer.",
            param="expires_after.seconds",
            code="invalid_type" if seconds is not None else "missing_required_parameter",
        )
    if not low <= int(seconds) <= high:
        raise InvalidRequestError(
            f"Invalid 'expires_after.seconds': expected a value between {low} and {high}, "
            f"but got {seconds} instead.",
            param="expires_after.seconds",
            code="invalid_value",
        )
    return int(seconds)


def parse_upload(form: FormData) -> tuple[UploadFile, str]:
    for name in form:
        if name not in _FORM_FIELDS:
            raise InvalidRequestError(
                f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
            )
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidRequestError(
            "Missing required parameter: 'file'.", param="file", code="missing_required_parameter"
        )
    purpose = form.get("purpose")
    if not isinstance(purpose, str) or not purpose:
        raise InvalidRequestError(
            "Missing required parameter: 'purpose'.",
            param="purpose",
            code="missing_required_parameter",
        )
    if purpose not in UPLOAD_PURPOSES:
        raise InvalidRequestError(
            f"Invalid value for 'purpose': '{purpose}'. Expected one of: "
            + ", ".join(f"'{value}'" for value in UPLOAD_PURPOSES)
            + ".",
            param="purpose",
            code="invalid_value",
        )
    return upload, purpose


async def create(
    db: Database, blobs: BlobStore, project: str, form: FormData, max_bytes: int
) -> FileObject:
    """Store the bytes first, then the row; if the row can't be written the bytes go too."""
    upload, purpose = parse_upload(form)
    lifetime = parse_expiry(form)
    filename = check_filename(upload)
    file_id = ids.new_id(ids.FILE)
    size = await blobs.put(file_id, upload.file)
    try:
        if size > max_bytes:
            raise InvalidRequestError(
                f"File is too large: {size} bytes; the limit is {max_bytes} bytes.", param="file"
            )
        now = int(time.time())
        file = FileObject(
            id=file_id,
            bytes=size,
            created_at=now,
            expires_at=None if lifetime is None else now + lifetime,
            filename=filename,
            purpose=purpose,
        )
        async with db.write() as conn:
            await store.insert(conn, project, file, blob_key=file_id)
    except BaseException:
        await blobs.delete(file_id)
        raise
    return file


async def create_output(
    transaction: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
    blobs: BlobStore,
    project: str,
    filename: str,
    data: bytes,
) -> FileObject:
    """A file made by a tool (code interpreter output): purpose `assistants_output`.

    The bytes go first, under a new id that nothing names yet; the row follows in
    `transaction()` (the run's fenced write: a stale execution of the run is refused there).
    When the row is not written, the bytes are deleted again: no object is left that no File
    names."""
    file_id = ids.new_id(ids.FILE)
    size = await blobs.put_bytes(file_id, data)
    file = FileObject(
        id=file_id,
        bytes=size,
        created_at=int(time.time()),
        filename=filename,
        purpose="assistants_output",
    )
    try:
        async with transaction() as conn:
            await store.insert(conn, project, file, blob_key=file_id)
    except BaseException:
        await blobs.delete(file_id)
        raise
    return file


def _expired(file: FileObject) -> bool:
    return file.expires_at is not None and file.expires_at <= time.time()


async def get(conn: AsyncConnection, project: str, file_id: str) -> FileObject:
    file = await store.get(conn, project, file_id)
    if file is None or _expired(file):  # due, and not swept yet
        raise _not_found(file_id)
    return file


async def content(
    conn: AsyncConnection, blobs: BlobStore, project: str, file_id: str
) -> AsyncIterator[bytes]:
    file = await get(conn, project, file_id)
    if is_placeholder(file):  # imported from metadata only
        raise InvalidRequestError(BYTES_NOT_EXPORTED, param="file_id", code="file_not_downloadable")
    key = await store.blob_key(conn, project, file_id)
    if key is None:
        raise _not_found(file_id)
    await get(conn, project, file_id)
    return await blobs.stream(key)


async def delete(
    db: Database, blobs: BlobStore, project: str, file_id: str, holders: Sequence[FileHolder]
) -> FileDeleted:
    async with db.write() as conn:
        key = await store.blob_key(conn, project, file_id)
        if key is None or not await store.delete(conn, project, file_id):
            raise _not_found(file_id)
        # A deleted file leaves every vector store, and so every search, at once.
        for holder in holders:
            await holder(conn, project, file_id)
    await blobs.delete(key)
    return FileDeleted(id=file_id)


async def delete_expired(db: Database, blobs: BlobStore, holders: Sequence[FileHolder]) -> int:
    """Delete every file whose `expires_at` has passed (as a delete would); how many."""
    async with db.read() as conn:
        due = await store.expired(conn, int(time.time()))
    for project, file_id in due:
        with contextlib.suppress(NotFoundError):  # deleted meanwhile
            await delete(db, blobs, project, file_id, holders)
    return len(due)


async def expire_forever(
    db: Database, blobs: BlobStore, holders: Sequence[FileHolder], interval_s: float = 1.0
) -> None:
    """The background sweep of expired files: past the pool's capacity it waits its turn
    (background work) instead of being refused like a request."""
    with background():
        while True:
            try:
                await delete_expired(db, blobs, holders)
            except Exception:
                log.exception("the file expiry sweep failed")
            await asyncio.sleep(interval_s)


async def page(
    conn: AsyncConnection, project: str, params: PageParams, purpose: str | None
) -> RawPage:
    return await store.page(conn, project, params, purpose)
