"""Rules for conversations: creation with initial items, item batches, cascading delete."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids
from assistantd.conversations import store
from assistantd.conversations.schemas import (
    Conversation,
    CreateConversationRequest,
    CreateItemsRequest,
    UpdateConversationRequest,
)
from assistantd.db.documents import RawPage
from assistantd.errors import InvalidRequestError, NotFoundError
from assistantd.items import convert
from assistantd.items.schemas import Item
from assistantd.pagination import PageParams
from assistantd.responses_api import threads
from assistantd.schemas import DeletedObject, Page


async def create(
    conn: AsyncConnection, project: str, request: CreateConversationRequest
) -> Conversation:
    conversation = Conversation(
        id=ids.new_id(ids.CONVERSATION),
        created_at=int(time.time()),
        metadata=request.metadata or {},
    )
    items = await convert.to_items(
        request.items or [], partial(store.find_item, conn, project), param="items"
    )
    await store.insert(conn, project, conversation)
    await _add(conn, project, conversation.id, items, strict=True)
    return conversation


async def get(conn: AsyncConnection, project: str, conversation_id: str) -> Conversation:
    if threads.is_thread(conversation_id):  # an extension: a thread read as a conversation
        conversation = await threads.as_conversation(conn, project, conversation_id)
    else:
        conversation = await store.get(conn, project, conversation_id)
    if conversation is None:
        raise NotFoundError.for_id("conversation", conversation_id)
    return conversation


async def update(
    conn: AsyncConnection, project: str, conversation_id: str, request: UpdateConversationRequest
) -> Conversation:
    conversation = await get(conn, project, conversation_id)
    conversation.metadata = request.metadata or {}
    await store.update(conn, project, conversation)
    return conversation


async def delete(conn: AsyncConnection, project: str, conversation_id: str) -> DeletedObject:
    if not await store.delete(conn, project, conversation_id):
        raise NotFoundError.for_id("conversation", conversation_id)
    return DeletedObject(id=conversation_id, object="conversation.deleted")


async def add_items(
    conn: AsyncConnection, project: str, conversation_id: str, request: CreateItemsRequest
) -> Page[Item]:
    await get(conn, project, conversation_id)
    items = await convert.to_items(
        request.items, partial(store.find_item, conn, project), param="items"
    )
    await _add(conn, project, conversation_id, items, strict=True)
    first, last = (items[0].id, items[-1].id) if items else (None, None)
    return Page[Item](data=items, first_id=first, last_id=last, has_more=False)


async def append(
    conn: AsyncConnection, project: str, conversation_id: str, items: Sequence[Item]
) -> None:
    """Append a response's input and output; items the conversation holds already are kept
    where they are (a program may send an earlier output back as input)."""
    await _add(conn, project, conversation_id, items, strict=False)


async def _add(
    conn: AsyncConnection,
    project: str,
    conversation_id: str,
    items: Sequence[Item],
    *,
    strict: bool,
) -> None:
    seen: set[str] = set()
    for index, item in enumerate(items):
        duplicate = item.id in seen or (
            await store.get_item(conn, project, conversation_id, item.id) is not None
        )
        if duplicate and strict:
            raise InvalidRequestError(
                f"Duplicate item found with id '{item.id}'.",
                param=f"items[{index}].id",
                code="invalid_value",
            )
        if not duplicate:
            await store.insert_item(conn, project, conversation_id, item)
            seen.add(item.id)


async def items(
    conn: AsyncConnection, project: str, conversation_id: str, params: PageParams
) -> RawPage | Page[Item]:
    if threads.is_thread(conversation_id):
        page = await threads.items(conn, project, conversation_id, params)
        if page is None:
            raise NotFoundError.for_id("conversation", conversation_id)
        return page
    await get(conn, project, conversation_id)
    return await store.page_items(conn, project, conversation_id, params)


async def transcript(conn: AsyncConnection, project: str, conversation_id: str) -> list[Item]:
    await get(conn, project, conversation_id)
    return await store.all_items(conn, project, conversation_id)


async def get_item(conn: AsyncConnection, project: str, conversation_id: str, item_id: str) -> Item:
    await get(conn, project, conversation_id)
    if threads.is_thread(conversation_id):
        found = await threads.history(conn, project, conversation_id)
        item = next((i for i in (found[0] if found else []) if i.id == item_id), None)
    else:
        item = await store.get_item(conn, project, conversation_id, item_id)
    if item is None:
        raise NotFoundError.for_id("item", item_id)
    return item


async def delete_item(
    conn: AsyncConnection, project: str, conversation_id: str, item_id: str
) -> Conversation:
    conversation = await get(conn, project, conversation_id)
    if not await store.delete_item(conn, project, conversation_id, item_id):
        raise NotFoundError.for_id("item", item_id)
    return conversation
