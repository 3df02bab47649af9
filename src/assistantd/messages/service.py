"""Rules for messages: content parts, attachments, limits, and the thread they belong to."""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids
from assistantd.db.documents import RawPage
from assistantd.errors import InvalidRequestError, NotFoundError
from assistantd.files import references
from assistantd.messages import store
from assistantd.messages.schemas import (
    Attachment,
    CreateMessageRequest,
    ImageFile,
    ImageFileContentBlock,
    ImageFilePartParam,
    ImageURL,
    ImageURLContentBlock,
    Message,
    MessageContent,
    ModifyMessageRequest,
    Text,
    TextContentBlock,
    TextPartParam,
)
from assistantd.pagination import PageParams
from assistantd.schemas import DeletedObject, FileSearchResources, ToolResources
from assistantd.thread_lock.service import check_unlocked
from assistantd.threads import store as threads_store
from assistantd.threads.schemas import Thread
from assistantd.vector_stores import service as vector_stores

MAX_CONTENT_CHARS = 256_000
MAX_ATTACHMENTS = 10


def _field(prefix: str, name: str) -> str:
    """The `param` of an error: `content` for a message, `messages[2].content` inside a thread."""
    return f"{prefix}.{name}" if prefix else name


def _content(request: CreateMessageRequest, prefix: str) -> list[MessageContent]:
    if isinstance(request.content, str):
        parts: list[MessageContent] = [TextContentBlock(text=Text(value=request.content))]
    else:
        parts = []
        for part in request.content:
            if isinstance(part, TextPartParam):
                parts.append(TextContentBlock(text=Text(value=part.text)))
            elif isinstance(part, ImageFilePartParam):
                parts.append(
                    ImageFileContentBlock(image_file=ImageFile(**part.image_file.model_dump()))
                )
            else:
                parts.append(
                    ImageURLContentBlock(image_url=ImageURL(**part.image_url.model_dump()))
                )
    size = sum(len(part.text.value) for part in parts if isinstance(part, TextContentBlock))
    if size > MAX_CONTENT_CHARS:
        param = _field(prefix, "content")
        raise InvalidRequestError(
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{MAX_CONTENT_CHARS}, but got a string with length {size} instead.",
            param=param,
            code="string_above_max_length",
        )
    return parts


async def _check_files(
    conn: AsyncConnection, project: str, request: CreateMessageRequest, prefix: str
) -> None:
    if not isinstance(request.content, str):
        images = [
            (f"{_field(prefix, 'content')}[{i}].image_file.file_id", p.image_file.file_id)
            for i, p in enumerate(request.content)
            if isinstance(p, ImageFilePartParam)
        ]
        await references.check_file_ids(
            conn, project, [i for _, i in images], [param for param, _ in images]
        )
    attachments = request.attachments or []
    param = _field(prefix, "attachments")
    if len(attachments) > MAX_ATTACHMENTS:
        raise InvalidRequestError(
            f"A message may have at most {MAX_ATTACHMENTS} attachments.",
            param=param,
            code="array_above_max_length",
        )
    await references.check_file_ids(
        conn, project, [a.file_id for a in attachments], f"{param}[{{}}].file_id"
    )


async def add(
    conn: AsyncConnection,
    project: str,
    thread: Thread,
    request: CreateMessageRequest,
    *,
    param: str = "",
    run_id: str | None = None,
    assistant_id: str | None = None,
) -> Message:
    """Append a message to `thread` (already loaded and checked by the caller)."""
    content = _content(request, param)
    await _check_files(conn, project, request, param)
    searchable = [
        a.file_id
        for a in request.attachments or []
        if any(tool.type == "file_search" for tool in a.tools)
    ]
    if searchable:
        await _add_to_thread_store(conn, project, thread, searchable)
    message_id = ids.new_id(ids.MESSAGE)
    created_at = int(time.time())
    message = Message(
        id=message_id,
        created_at=created_at,
        thread_id=thread.id,
        role=request.role,
        content=content,
        attachments=[Attachment.model_validate(a.model_dump()) for a in request.attachments or []],
        metadata=request.metadata or {},
        completed_at=created_at,
        run_id=run_id,
        assistant_id=assistant_id,
    )
    await store.insert(conn, project, message)
    return message


async def _add_to_thread_store(
    conn: AsyncConnection, project: str, thread: Thread, file_ids: list[str]
) -> None:
    """Message attachments for file search go into the thread's first vector store, made on
    demand and recorded in the thread's tool resources."""
    resources = thread.tool_resources
    current = (
        resources.file_search.vector_store_ids
        if resources is not None and resources.file_search is not None
        else []
    )
    if current:
        store_id = current[0]
    else:
        store_id = await vector_stores.create_thread_store(conn, project, thread.id)
        if resources is None:  # (a thread stored with `null` tool resources)
            resources = thread.tool_resources = ToolResources()
        resources.file_search = FileSearchResources(vector_store_ids=[store_id])
        await threads_store.update(conn, project, thread)
    await vector_stores.attach_missing(conn, project, store_id, file_ids)


async def _thread(conn: AsyncConnection, project: str, thread_id: str) -> Thread:
    thread = await threads_store.get(conn, project, thread_id)
    if thread is None:
        raise NotFoundError.for_id("thread", thread_id)
    return thread


async def create(
    conn: AsyncConnection, project: str, thread_id: str, request: CreateMessageRequest
) -> Message:
    thread = await _thread(conn, project, thread_id)
    await check_unlocked(conn, thread.id, for_message=True)
    return await add(conn, project, thread, request)


async def get(conn: AsyncConnection, project: str, thread_id: str, message_id: str) -> Message:
    message = await store.get(conn, project, thread_id, message_id)
    if message is None:
        await _thread(conn, project, thread_id)
        raise NotFoundError.for_id("message", message_id)
    return message


async def modify(
    conn: AsyncConnection,
    project: str,
    thread_id: str,
    message_id: str,
    request: ModifyMessageRequest,
) -> Message:
    message = await get(conn, project, thread_id, message_id)
    if "metadata" not in request.model_fields_set:
        return message
    # Only the metadata is written: a run may be writing the message's content meanwhile.
    patched = await store.patch(conn, message.id, {"metadata": request.metadata or {}})
    if patched is None:
        raise NotFoundError.for_id("message", message_id)
    return patched


async def delete(
    conn: AsyncConnection, project: str, thread_id: str, message_id: str
) -> DeletedObject:
    if not await store.delete(conn, project, thread_id, message_id):
        await _thread(conn, project, thread_id)
        raise NotFoundError.for_id("message", message_id)
    return DeletedObject(id=message_id, object="thread.message.deleted")


async def page(
    conn: AsyncConnection, project: str, thread_id: str, params: PageParams, run_id: str | None
) -> RawPage:
    await _thread(conn, project, thread_id)
    return await store.page(conn, project, thread_id, params, run_id)
