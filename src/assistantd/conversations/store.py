"""All SQL for conversations and their items."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids
from assistantd.conversations.schemas import Conversation, StoredItem
from assistantd.db import documents
from assistantd.db.tables import conversation_items, conversations
from assistantd.items.schemas import Item
from assistantd.pagination import PageParams


async def insert(conn: AsyncConnection, project: str, conversation: Conversation) -> None:
    await documents.insert_doc(conn, conversations, project, conversation)


async def get(conn: AsyncConnection, project: str, conversation_id: str) -> Conversation | None:
    return await documents.get_doc(conn, conversations, project, conversation_id, Conversation)


async def update(conn: AsyncConnection, project: str, conversation: Conversation) -> None:
    await documents.update_doc(conn, conversations, project, conversation)


async def delete(conn: AsyncConnection, project: str, conversation_id: str) -> bool:
    """Delete the conversation; its items go with it through ON DELETE CASCADE."""
    return await documents.delete_doc(conn, conversations, project, conversation_id)


async def insert_item(
    conn: AsyncConnection, project: str, conversation_id: str, item: Item
) -> None:
    await documents.insert_doc(
        conn,
        conversation_items,
        project,
        item,
        conversation_id=conversation_id,
        ord=ids.new_id(""),  # insertion order, whatever the item's own id
    )


async def get_item(
    conn: AsyncConnection, project: str, conversation_id: str, item_id: str
) -> Item | None:
    found = await documents.get_doc(
        conn, conversation_items, project, item_id, StoredItem, conversation_id=conversation_id
    )
    return None if found is None else found.root


async def find_item(conn: AsyncConnection, project: str, item_id: str) -> Item | None:
    """An item of any of the project's conversations (for `item_reference`)."""
    query = (
        select(conversation_items.c.body)
        .where(conversation_items.c.id == item_id, conversation_items.c.project == project)
        .limit(1)
    )
    body = (await conn.execute(query)).scalar_one_or_none()
    return None if body is None else StoredItem.model_validate_json(body).root


async def delete_item(
    conn: AsyncConnection, project: str, conversation_id: str, item_id: str
) -> bool:
    return await documents.delete_doc(
        conn, conversation_items, project, item_id, conversation_id=conversation_id
    )


async def page_items(
    conn: AsyncConnection, project: str, conversation_id: str, params: PageParams
) -> documents.RawPage:
    return await documents.page_raw(
        conn, conversation_items, project, params, conversation_id=conversation_id
    )


async def all_items(conn: AsyncConnection, project: str, conversation_id: str) -> list[Item]:
    """Every item of the conversation, oldest first (the transcript a response reads)."""
    query = (
        select(conversation_items.c.body)
        .where(
            conversation_items.c.conversation_id == conversation_id,
            conversation_items.c.project == project,
        )
        .order_by(conversation_items.c.ord)
    )
    rows = (await conn.execute(query)).scalars().all()
    return [StoredItem.model_validate_json(body).root for body in rows]
