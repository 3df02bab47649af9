"""Conversation objects and requests, mirroring openai-python's `Conversation`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, RootModel

from assistantd.items.schemas import InputItem, Item
from assistantd.schemas import Metadata, RequestSchema, Schema

MAX_ITEMS_PER_REQUEST = 20


class Conversation(Schema):
    id: str
    object: Literal["conversation"] = "conversation"
    created_at: int
    metadata: dict[str, str] = Field(default_factory=dict)


class StoredItem(RootModel[Item]):
    """An item as stored in a row's body (the union, read back by its `type`)."""


class CreateConversationRequest(RequestSchema):
    items: Annotated[list[InputItem], Field(max_length=MAX_ITEMS_PER_REQUEST)] | None = None
    metadata: Metadata = None


class UpdateConversationRequest(RequestSchema):
    metadata: Metadata


class CreateItemsRequest(RequestSchema):
    items: Annotated[list[InputItem], Field(max_length=MAX_ITEMS_PER_REQUEST)]
