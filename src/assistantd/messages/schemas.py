"""Message objects and requests, mirroring openai-python's `Message` and the v2 spec."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from assistantd.schemas import Metadata, RequestSchema, Schema, Sparse

# --- annotations and content parts (objects) -----------------------------------------------------


class FileCitation(Sparse):
    file_id: str
    quote: str | None = None  # not in v2's schema, but clients written for v1 read it


class FileCitationAnnotation(Schema):
    type: Literal["file_citation"] = "file_citation"
    text: str
    file_citation: FileCitation
    start_index: int
    end_index: int


class FilePath(Schema):
    file_id: str


class FilePathAnnotation(Schema):
    type: Literal["file_path"] = "file_path"
    text: str
    file_path: FilePath
    start_index: int
    end_index: int


Annotation = Annotated[FileCitationAnnotation | FilePathAnnotation, Field(discriminator="type")]


class Text(Schema):
    value: str
    annotations: list[Annotation] = Field(default_factory=list)


class TextContentBlock(Schema):
    type: Literal["text"] = "text"
    text: Text


class ImageFile(Schema):
    file_id: str
    detail: Literal["auto", "low", "high"] = "auto"


class ImageFileContentBlock(Schema):
    type: Literal["image_file"] = "image_file"
    image_file: ImageFile


class ImageURL(Schema):
    url: str
    detail: Literal["auto", "low", "high"] = "auto"


class ImageURLContentBlock(Schema):
    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


class RefusalContentBlock(Schema):
    type: Literal["refusal"] = "refusal"
    refusal: str


MessageContent = Annotated[
    TextContentBlock | ImageFileContentBlock | ImageURLContentBlock | RefusalContentBlock,
    Field(discriminator="type"),
]


class AttachmentToolCodeInterpreter(Schema):
    type: Literal["code_interpreter"]


class AttachmentToolFileSearch(Schema):
    type: Literal["file_search"]


AttachmentTool = Annotated[
    AttachmentToolCodeInterpreter | AttachmentToolFileSearch, Field(discriminator="type")
]


class Attachment(Schema):
    file_id: str
    tools: list[AttachmentTool] = Field(default_factory=list)


MessageStatus = Literal["in_progress", "incomplete", "completed"]


class IncompleteDetails(Schema):
    reason: Literal["content_filter", "max_tokens", "run_cancelled", "run_expired", "run_failed"]


class Message(Schema):
    id: str
    object: Literal["thread.message"] = "thread.message"
    created_at: int
    assistant_id: str | None = None
    thread_id: str
    run_id: str | None = None
    status: MessageStatus = "completed"
    incomplete_details: IncompleteDetails | None = None
    completed_at: int | None = None
    incomplete_at: int | None = None
    role: Literal["user", "assistant"]
    content: list[MessageContent]
    attachments: list[Attachment] | None = Field(default_factory=list)
    metadata: dict[str, str] | None = Field(default_factory=dict)


# --- requests ------------------------------------------------------------------------------------


class TextPartParam(RequestSchema):
    type: Literal["text"]
    text: str


class ImageFileParam(RequestSchema):
    file_id: str
    detail: Literal["auto", "low", "high"] = "auto"


class ImageFilePartParam(RequestSchema):
    type: Literal["image_file"]
    image_file: ImageFileParam


def _check_url(value: str) -> str:
    """An image URL: http(s) with a host, or a `data:` URL (the two kinds OpenAI takes)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or not (
        (parts.scheme in ("http", "https") and parts.hostname) or parts.scheme == "data"
    ):
        raise ValueError("Expected a valid URL, but got a value with an invalid format")
    return value


class ImageURLParam(RequestSchema):
    url: Annotated[str, AfterValidator(_check_url)]
    detail: Literal["auto", "low", "high"] = "auto"


class ImageURLPartParam(RequestSchema):
    type: Literal["image_url"]
    image_url: ImageURLParam


ContentPartParam = Annotated[
    TextPartParam | ImageFilePartParam | ImageURLPartParam, Field(discriminator="type")
]


class AttachmentParam(RequestSchema):
    file_id: str
    tools: list[AttachmentTool] = Field(default_factory=list)


class CreateMessageRequest(RequestSchema):
    role: Literal["user", "assistant"]
    content: str | Annotated[list[ContentPartParam], Field(min_length=1)]
    attachments: list[AttachmentParam] | None = None
    metadata: Metadata = None


class ModifyMessageRequest(RequestSchema):
    metadata: Metadata = None
