"""The context of a response: the items of its `previous_response_id` chain, of its
conversation, or of an Assistants thread used as one, and its own input items."""

from __future__ import annotations

from functools import partial

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.conversations import store as conversation_store
from assistantd.errors import InvalidRequestError, NotFoundError
from assistantd.items import convert
from assistantd.items.schemas import InputItem, Item
from assistantd.responses_api import store, threads
from assistantd.responses_api.schemas import ConversationRef

MAX_CHAIN = 10_000  # previous_response_id hops followed at most


def conversation_id(value: str | ConversationRef | None) -> str | None:
    return value.id if isinstance(value, ConversationRef) else value


async def load(
    conn: AsyncConnection,
    project: str,
    previous_response_id: str | None,
    conversation_id: str | None,
    given: str | list[InputItem] | None,
) -> tuple[list[Item], list[Item], list[str]]:
    """(the earlier items the model sees, this request's input items, the file-search stores
    of a thread used as the conversation)."""
    if previous_response_id is not None and conversation_id is not None:
        raise InvalidRequestError(
            "Mutually exclusive parameters: Ensure you are only providing one of: "
            "'previous_response_id' or 'conversation'.",
            param="conversation",
            code="mutually_exclusive_parameters",
        )
    history: list[Item] = []
    stores: list[str] = []
    if previous_response_id is not None:
        history = await chain(conn, project, previous_response_id)
    elif conversation_id is not None and threads.is_thread(conversation_id):
        found = await threads.history(conn, project, conversation_id)
        if found is None:
            raise NotFoundError.for_id("conversation", conversation_id, param="conversation")
        history, stores = found
    elif conversation_id is not None:
        if await conversation_store.get(conn, project, conversation_id) is None:
            raise NotFoundError.for_id("conversation", conversation_id, param="conversation")
        history = await conversation_store.all_items(conn, project, conversation_id)
    if isinstance(given, str):
        inputs = convert.text_input(given)
    else:
        resolve = partial(conversation_store.find_item, conn, project)
        inputs = await convert.to_items(given or [], resolve)
    return history, inputs, stores


async def chain(conn: AsyncConnection, project: str, response_id: str) -> list[Item]:
    """Input and output of every response up the `previous_response_id` chain, oldest first."""
    turns: list[list[Item]] = []
    current: str | None = response_id
    while current is not None and len(turns) < MAX_CHAIN:
        response = await store.get(conn, project, current)
        inputs = await store.get_input(conn, project, current) if response else None
        if response is None or inputs is None:
            if current == response_id:
                raise NotFoundError(
                    f"Previous response with id '{response_id}' not found.",
                    param="previous_response_id",
                )
            break  # an ancestor was deleted: the chain starts after it
        turns.append(inputs + list(response.output))
        current = response.previous_response_id
    return [item for turn in reversed(turns) for item in turn]
