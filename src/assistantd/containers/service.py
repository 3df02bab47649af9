"""Rules for containers: a container is a sandbox session (its id is the session key), with
the same hardening as the threads' sessions; its files are the session's /mnt/data, recorded
(path, size, who made them) so they can be listed and downloaded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids
from assistantd.containers import store
from assistantd.containers.schemas import (
    Container,
    ContainerFile,
    CreateContainerRequest,
    ExpiresAfter,
    is_expired,
)
from assistantd.db.documents import RawPage
from assistantd.db.engine import Database
from assistantd.errors import APIError, InvalidRequestError, NotFoundError, ServiceUnavailableError
from assistantd.files import service as files_service
from assistantd.files.blobs import BlobMissingError, BlobStore
from assistantd.pagination import PageParams
from assistantd.schemas import DeletedObject
from assistantd.tools.code_interpreter.events import ChangedFile, SandboxFileError
from assistantd.tools.code_interpreter.follow import SessionManifests, forget
from assistantd.tools.code_interpreter.sandbox import Sandbox

DATA_DIR = "/mnt/data/"


def blob_key(file_id: str) -> str:
    """Where a container file's bytes are kept, so that every node can serve them and a
    container whose code runs on another node gets its files there (tools/code_interpreter/
    follow.py; the container's manifest names path -> container file id)."""
    return f"container-{file_id}"


log = logging.getLogger(__name__)


def need_sandbox(sandbox: Sandbox | None) -> Sandbox:
    if sandbox is None:
        raise ServiceUnavailableError(
            "The code interpreter is disabled on this server (ASSISTANTD_SANDBOX_ENABLED)."
        )
    return sandbox


async def create(
    db: Database,
    sandbox: Sandbox | None,
    manifests: SessionManifests,
    project: str,
    request: CreateContainerRequest,
) -> Container:
    box = need_sandbox(sandbox)
    now = int(time.time())
    container = Container(
        id=ids.new_id(ids.CONTAINER),
        name=request.name,
        created_at=now,
        last_active_at=now,
        expires_after=request.expires_after or ExpiresAfter(),
    )
    async with db.write() as conn:
        files = [await files_service.get(conn, project, fid) for fid in request.file_ids or []]
        await store.insert(conn, project, container)
    for file in files:
        data = await manifests.blobs.read(file.id)
        await add_file(db, box, manifests, project, container.id, file.filename, data)
    return container


async def get(conn: AsyncConnection, project: str, container_id: str) -> Container:
    """The container, `expired` as soon as it is idle too long (the sweep reaps it later)."""
    container = await store.get(conn, project, container_id)
    if container is None:
        raise NotFoundError.for_id("container", container_id)
    if container.status == "running" and is_expired(container, time.time()):
        container = container.model_copy(update={"status": "expired"})
    return container


async def usable(
    conn: AsyncConnection, project: str, container_id: str, param: str | None = None
) -> Container:
    """A container that code can run in and files can go into: not expired."""
    container = await get(conn, project, container_id)
    if container.status == "expired":
        raise InvalidRequestError(
            f"Container '{container_id}' is expired: it was idle for more than "
            f"{container.expires_after.minutes} minutes. Create a new one.",
            param=param,
            code="container_expired",
        )
    return container


async def reap_expired(db: Database, sandbox: Sandbox | None, blobs: BlobStore) -> int:
    """Mark the idle containers expired and close their sandboxes (their files go)."""
    now = time.time()
    async with db.read() as conn:
        idle = [(p, c) for p, c in await store.running(conn) if is_expired(c, now)]
    for project, container in idle:
        async with db.write() as conn:
            current = await store.get(conn, project, container.id)
            if current is None or not is_expired(current, time.time()):
                continue  # deleted, or used again since
            await store.update(conn, project, current.model_copy(update={"status": "expired"}))
        if sandbox is not None:
            await sandbox.close_session(container.id, delete_files=True)
        await _forget_files(blobs, container.id)
    return len(idle)


async def reap_forever(
    db: Database, sandbox: Sandbox | None, blobs: BlobStore, interval_s: float = 5.0
) -> None:
    """The background sweep of expired containers."""
    while True:
        try:
            await reap_expired(db, sandbox, blobs)
        except Exception:
            log.exception("the container expiry sweep failed")
        await asyncio.sleep(interval_s)


async def touch(db: Database, project: str, container_id: str) -> Container:
    """The container was used: its idle expiry starts again."""
    async with db.write() as conn:
        container = await store.get(conn, project, container_id)
        if container is None:
            raise NotFoundError.for_id("container", container_id)
        container.last_active_at = int(time.time())
        await store.update(conn, project, container)
    return container


async def delete(
    db: Database, sandbox: Sandbox | None, blobs: BlobStore, project: str, container_id: str
) -> DeletedObject:
    async with db.write() as conn:
        if not await store.delete(conn, project, container_id):
            raise NotFoundError.for_id("container", container_id)
    await _forget_files(blobs, container_id)
    if sandbox is not None:  # the session and its files go with it
        await sandbox.close_session(container_id, delete_files=True)
    return DeletedObject(id=container_id, object="container.deleted")


async def page(conn: AsyncConnection, project: str, params: PageParams) -> RawPage:
    """Stored bodies, those idle too long shown `expired` before the sweep has marked them."""
    found = await store.page(conn, project, params)
    now = time.time()
    bodies = []
    for body in found.bodies:
        container = Container.model_validate_json(body)
        if container.status == "running" and is_expired(container, now):
            body = container.model_copy(update={"status": "expired"}).model_dump_json()
        bodies.append(body)
    return RawPage(bodies, found.first_id, found.last_id, found.has_more)


FileSource = tuple[str, bytes] | str
"""What a request puts into a container: a file's name and bytes, or the id of a File."""


async def add_upload(
    db: Database,
    sandbox: Sandbox | None,
    blobs: BlobStore,
    manifests: SessionManifests,
    project: str,
    container_id: str,
    read: Callable[[], Awaitable[FileSource]],
) -> ContainerFile:
    """`POST /containers/{id}/files`: the container must be usable before the request's body is
    read (`read`, the router's parsing of the upload or of the JSON naming a File)."""
    box = need_sandbox(sandbox)
    async with db.read() as conn:
        await usable(conn, project, container_id)
    source = await read()
    if isinstance(source, str):
        async with db.read() as conn:
            file = await files_service.get(conn, project, source)
        name, data = file.filename, await blobs.read(file.id)
    else:
        name, data = source
    return await add_file(db, box, manifests, project, container_id, name, data)


async def add_file(
    db: Database,
    sandbox: Sandbox,
    manifests: SessionManifests,
    project: str,
    container_id: str,
    name: str,
    data: bytes,
) -> ContainerFile:
    """Put a user's file into the container's /mnt/data (replacing one of the same name)."""
    try:
        await sandbox.put_file(container_id, name, data)
    except SandboxFileError as exc:
        raise InvalidRequestError(f"Invalid file: {exc}", param="file") from exc
    async with db.write() as conn:
        file = await _record(conn, project, container_id, name, len(data), "user")
    await manifests.blobs.put_bytes(blob_key(file.id), data)
    # This node's /mnt/data has it; a node that runs the container's code next must fetch it.
    manifest = await manifests.load(container_id)
    files = {**(manifest.files if manifest else {}), name: file.id}
    await manifests.save(container_id, files, ran=manifest.ran if manifest else None)
    return file


async def record_outputs(
    db: Database,
    sandbox: Sandbox,
    blobs: BlobStore,
    project: str,
    container_id: str,
    changed: Sequence[ChangedFile],
) -> list[ContainerFile]:
    """The files a code call wrote, recorded as the assistant's, their bytes in the blob store."""
    async with db.write() as conn:
        recorded = [
            await _record(conn, project, container_id, c.path, c.size, "assistant") for c in changed
        ]
    for file in recorded:
        try:
            data = await sandbox.read_file(container_id, file.path.removeprefix(DATA_DIR))
        except SandboxFileError:
            continue  # vanished, a symlink, too large: served from this node only, if at all
        await blobs.put_bytes(blob_key(file.id), data)
    return recorded


async def _forget_files(blobs: BlobStore, container_id: str) -> None:
    """The bytes of the container's files (its manifest names them), and the manifest."""
    manifest = await SessionManifests(blobs).load(container_id)
    for file_id in manifest.files.values() if manifest is not None else ():
        await forget_bytes(blobs, file_id)
    await forget(blobs, container_id)


async def forget_bytes(blobs: BlobStore, file_id: str) -> None:
    with contextlib.suppress(APIError):  # a leftover is only bytes; the row is gone
        await blobs.delete(blob_key(file_id))


async def _record(
    conn: AsyncConnection,
    project: str,
    container_id: str,
    relative: str,
    size: int,
    source: str,
) -> ContainerFile:
    path = DATA_DIR + relative
    existing = await store.file_at(conn, project, container_id, path)
    if existing is not None:
        existing.bytes = size
        await store.replace_file(conn, project, existing)
        return existing
    file = ContainerFile(
        id=ids.new_id(ids.CONTAINER_FILE),
        container_id=container_id,
        created_at=int(time.time()),
        bytes=size,
        path=path,
        source="user" if source == "user" else "assistant",
    )
    await store.insert_file(conn, project, file)
    return file


async def get_file(
    conn: AsyncConnection, project: str, container_id: str, file_id: str
) -> ContainerFile:
    await get(conn, project, container_id)
    file = await store.get_file(conn, project, container_id, file_id)
    if file is None:
        raise NotFoundError.for_id("file", file_id)
    return file


async def files(
    conn: AsyncConnection, project: str, container_id: str, params: PageParams
) -> RawPage:
    await get(conn, project, container_id)
    return await store.page_files(conn, project, container_id, params)


async def content(
    conn: AsyncConnection,
    sandbox: Sandbox | None,
    blobs: BlobStore,
    project: str,
    container_id: str,
    file_id: str,
) -> bytes:
    """The file as this node's /mnt/data holds it, else as last recorded (another node ran the
    container, or this one was restarted)."""
    file = await get_file(conn, project, container_id, file_id)
    if sandbox is not None:
        try:
            return await sandbox.read_file(container_id, file.path.removeprefix(DATA_DIR))
        except SandboxFileError:
            pass
    try:
        return await blobs.read(blob_key(file.id))
    except BlobMissingError as exc:  # the code removed it before it was recorded
        raise NotFoundError.for_id("file", file_id) from exc


async def delete_file(
    db: Database,
    sandbox: Sandbox | None,
    blobs: BlobStore,
    project: str,
    container_id: str,
    file_id: str,
) -> DeletedObject:
    async with db.write() as conn:
        file = await get_file(conn, project, container_id, file_id)
        await store.delete_file(conn, project, container_id, file_id)
    await need_sandbox(sandbox).remove_file(container_id, file.path.removeprefix(DATA_DIR))
    await forget_bytes(blobs, file_id)
    return DeletedObject(id=file_id, object="container.file.deleted")
