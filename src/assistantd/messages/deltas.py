"""Message deltas (`thread.message.delta` data), mirroring openai-python's `MessageDelta`.

Sparse: only what changed is sent; the event encoder dumps them with `exclude_none`. Every content
part and annotation carries its `index` (position in the message's content / the part's
annotations) and `type`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from assistantd.messages.schemas import FileCitation, FilePath, ImageFile, ImageURL
from assistantd.schemas import Schema


class FileCitationDeltaAnnotation(Schema):
    index: int
    type: Literal["file_citation"] = "file_citation"
    text: str | None = None
    file_citation: FileCitation | None = None
    start_index: int | None = None
    end_index: int | None = None


class FilePathDeltaAnnotation(Schema):
    index: int
    type: Literal["file_path"] = "file_path"
    text: str | None = None
    file_path: FilePath | None = None
    start_index: int | None = None
    end_index: int | None = None


AnnotationDelta = Annotated[
    FileCitationDeltaAnnotation | FilePathDeltaAnnotation, Field(discriminator="type")
]


class TextDelta(Schema):
    value: str | None = None
    annotations: list[AnnotationDelta] | None = None


class TextDeltaBlock(Schema):
    index: int
    type: Literal["text"] = "text"
    text: TextDelta | None = None


class ImageFileDeltaBlock(Schema):
    index: int
    type: Literal["image_file"] = "image_file"
    image_file: ImageFile | None = None


class ImageURLDeltaBlock(Schema):
    index: int
    type: Literal["image_url"] = "image_url"
    image_url: ImageURL | None = None


class RefusalDeltaBlock(Schema):
    index: int
    type: Literal["refusal"] = "refusal"
    refusal: str | None = None


MessageContentDelta = Annotated[
    TextDeltaBlock | ImageFileDeltaBlock | ImageURLDeltaBlock | RefusalDeltaBlock,
    Field(discriminator="type"),
]


class MessageDelta(Schema):
    role: Literal["user", "assistant"] | None = None
    content: list[MessageContentDelta] | None = None


class MessageDeltaEvent(Schema):
    """The data of `thread.message.delta`."""

    id: str
    object: Literal["thread.message.delta"] = "thread.message.delta"
    delta: MessageDelta
