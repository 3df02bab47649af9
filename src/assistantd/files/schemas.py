"""File objects, mirroring openai-python's `FileObject`."""

from __future__ import annotations

from typing import Literal

from assistantd.schemas import Schema, Sparse

Purpose = Literal[
    "assistants",
    "assistants_output",
    "batch",
    "batch_output",
    "fine-tune",
    "fine-tune-results",
    "vision",
    "user_data",
    "evals",
]
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


class FileObject(Sparse):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    expires_at: int | None = None
    filename: str
    purpose: Purpose
    status: Literal["uploaded", "processed", "error"] = "processed"
    status_details: str | None = None


BYTES_NOT_EXPORTED = (
    "The file's bytes were not in the export it was imported from (OpenAI never allowed "
    "downloading them); attach them with `assistantd import --files DIR`."
)
"""The `status_details` of a placeholder: a File known from an export's metadata only."""


def is_placeholder(file: FileObject) -> bool:
    return file.status == "error" and file.status_details == BYTES_NOT_EXPORTED


class FileDeleted(Schema):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True
