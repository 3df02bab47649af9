"""An extension: an Assistants thread used as a conversation (`conversation: "thread_..."`).

The thread's messages are the model's history (their text; images and attachments are not
carried), the file-search stores of its `tool_resources` join the response's `file_search`
tool, and the response's input and output messages are appended to the thread as messages,
so the Assistants side sees the exchange too. Function calls and tool calls have no message
form and are not appended. The thread is also readable through /conversations (retrieve, list
and retrieve items). No data migration: one store, two faces.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids
from assistantd.conversations.schemas import Conversation
from assistantd.items.schemas import InputText, Item, MessageItem, OutputText
from assistantd.messages import store as messages_store
from assistantd.messages.schemas import Message, Text, TextContentBlock
from assistantd.pagination import PageParams
from assistantd.schemas import Page
from assistantd.threads import store as threads_store


def is_thread(conversation_id: str) -> bool:
    return conversation_id.startswith(ids.THREAD)


async def history(
    conn: AsyncConnection, project: str, thread_id: str
) -> tuple[list[Item], list[str]] | None:
    """(the thread's messages as items, its file-search store ids), or None if not found."""
    thread = await threads_store.get(conn, project, thread_id)
    if thread is None:
        return None
    items: list[Item] = []
    for message in await messages_store.of_thread(conn, thread_id):
        text = "".join(b.text.value for b in message.content if isinstance(b, TextContentBlock))
        if message.role == "user":
            items.append(MessageItem(id=message.id, role="user", content=[InputText(text=text)]))
        else:
            status = "incomplete" if message.status == "incomplete" else "completed"
            items.append(
                MessageItem(
                    id=message.id,
                    role="assistant",
                    status=status,
                    content=[OutputText(text=text)],
                )
            )
    resources = thread.tool_resources
    stores = (
        list(resources.file_search.vector_store_ids)
        if resources is not None and resources.file_search is not None
        else []
    )
    return items, stores


async def append(
    conn: AsyncConnection, project: str, thread_id: str, items: Sequence[Item]
) -> None:
    """The user and assistant messages among `items`, as thread messages (text only)."""
    now = int(time.time())
    for item in items:
        if not isinstance(item, MessageItem) or item.role not in ("user", "assistant"):
            continue
        text = "".join(p.text for p in item.content if isinstance(p, InputText | OutputText))
        message = Message(
            id=ids.new_id(ids.MESSAGE),
            created_at=now,
            thread_id=thread_id,
            role="user" if item.role == "user" else "assistant",
            content=[TextContentBlock(text=Text(value=text))],
            completed_at=now,
        )
        await messages_store.insert(conn, project, message)


async def as_conversation(
    conn: AsyncConnection, project: str, thread_id: str
) -> Conversation | None:
    """The thread shown as a conversation (its id, creation time and metadata)."""
    thread = await threads_store.get(conn, project, thread_id)
    if thread is None:
        return None
    return Conversation(id=thread.id, created_at=thread.created_at, metadata=thread.metadata or {})


async def items(
    conn: AsyncConnection, project: str, thread_id: str, params: PageParams
) -> Page[Item] | None:
    """The thread's messages as conversation items, in pages (cursor: an item id)."""
    found = await history(conn, project, thread_id)
    if found is None:
        return None
    return page_of(found[0], params)


def page_of(items: list[Item], params: PageParams) -> Page[Item]:
    """One page of items held in memory (oldest first), as the cursor params ask."""
    ordered = items if params.order == "asc" else list(reversed(items))
    position = {item.id: index for index, item in enumerate(ordered)}
    start = position[params.after] + 1 if params.after in position else 0
    stop = position[params.before] if params.before in position else len(ordered)
    window = ordered[start:stop]
    page = window[: params.limit]
    first, last = (page[0].id, page[-1].id) if page else (None, None)
    return Page[Item](data=page, first_id=first, last_id=last, has_more=len(window) > len(page))
