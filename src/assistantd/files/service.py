"""Rules for files: upload validation, storage of the bytes, scoping to the project."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from python_multipart.multipart import parse_options_header
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.datastructures import FormData, UploadFile

from assistantd import ids
from assistantd.db.documents import RawPage
from assistantd.db.engine import Database
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
from assistantd.vector_stores import service as vector_stores

MAX_FILENAME = 255


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


def parse_upload(form: FormData) -> tuple[UploadFile, str]:
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
    filename = check_filename(upload)
    file_id = ids.new_id(ids.FILE)
    size = await blobs.put(file_id, upload.file)
    try:
        if size > max_bytes:
            raise InvalidRequestError(
                f"File is too large: {size} bytes; the limit is {max_bytes} bytes.", param="file"
            )
        file = FileObject(
            id=file_id, bytes=size, created_at=int(time.time()), filename=filename, purpose=purpose
        )
        async with db.write() as conn:
            await store.insert(conn, project, file, blob_key=file_id)
    except BaseException:
        await blobs.delete(file_id)
        raise
    return file


async def create_output(
    conn: AsyncConnection, blobs: BlobStore, project: str, filename: str, data: bytes
) -> FileObject:
    """A file made by a tool (code interpreter output): purpose `assistants_output`."""
    file_id = ids.new_id(ids.FILE)
    size = await blobs.put_bytes(file_id, data)
    file = FileObject(
        id=file_id,
        bytes=size,
        created_at=int(time.time()),
        filename=filename,
        purpose="assistants_output",
    )
    await store.insert(conn, project, file, blob_key=file_id)
    return file


async def get(conn: AsyncConnection, project: str, file_id: str) -> FileObject:
    file = await store.get(conn, project, file_id)
    if file is None:
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
    return blobs.stream(key)


async def delete(db: Database, blobs: BlobStore, project: str, file_id: str) -> FileDeleted:
    async with db.write() as conn:
        key = await store.blob_key(conn, project, file_id)
        if key is None or not await store.delete(conn, project, file_id):
            raise _not_found(file_id)
        # A deleted file leaves every vector store, and so every search, at once.
        await vector_stores.forget_file(conn, project, file_id)
    await blobs.delete(key)
    return FileDeleted(id=file_id)


async def page(
    conn: AsyncConnection, project: str, params: PageParams, purpose: str | None
) -> RawPage:
    return await store.page(conn, project, params, purpose)
