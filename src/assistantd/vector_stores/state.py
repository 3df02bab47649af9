"""THE ingestion state machines: vector store files, file batches, and a store's status.

Pure: no I/O, no clock. A file is born `in_progress` and ends once; a batch ends when a client
cancels it or when none of its files is in progress any more; a store's status is derived from
its files and its expiry, never stored as a transition of its own.

    file:  in_progress ──> completed | failed (with last_error) | cancelled
    batch: in_progress ──> completed | failed (every file failed) | cancelled
"""

from __future__ import annotations

from typing import Any, Literal

from assistantd.vector_stores.schemas import (
    FileCounts,
    FileStatus,
    VectorStoreFile,
    VectorStoreFileBatch,
)

StoreStatus = Literal["expired", "in_progress", "completed"]

FILE_TRANSITIONS: dict[FileStatus, frozenset[FileStatus]] = {
    "in_progress": frozenset({"completed", "failed", "cancelled"}),
    "completed": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}
BATCH_TRANSITIONS: dict[FileStatus, frozenset[FileStatus]] = FILE_TRANSITIONS
"""A batch moves like one file does (its end follows from its files')."""


class IllegalIngestionTransition(ValueError):
    """A file or batch status change the state machine does not allow (a bug, or a race)."""


def advance_file(file: VectorStoreFile, to: FileStatus, **changes: Any) -> VectorStoreFile:
    """`file` moved to `to` (`failed` needs `last_error`); `changes` sets other fields."""
    if to not in FILE_TRANSITIONS[file.status]:
        raise IllegalIngestionTransition(f"file {file.id}: {file.status} -> {to} is not allowed")
    if to == "failed" and changes.get("last_error") is None:
        raise IllegalIngestionTransition(f"file {file.id}: moving to failed needs last_error")
    return file.model_copy(update={**changes, "status": to})


def cancel_batch(batch: VectorStoreFileBatch) -> VectorStoreFileBatch:
    if "cancelled" not in BATCH_TRANSITIONS[batch.status]:
        raise IllegalIngestionTransition(f"batch {batch.id}: {batch.status} -> cancelled")
    return batch.model_copy(update={"status": "cancelled"})


def batch_status(batch: VectorStoreFileBatch, counts: FileCounts) -> FileStatus:
    """A batch in progress ends once none of its files is: `failed` if all of them failed."""
    if batch.status != "in_progress" or counts.in_progress:
        return batch.status
    return "failed" if counts.failed == counts.total and counts.total else "completed"


def store_status(counts: FileCounts, *, expired: bool) -> StoreStatus:
    if expired:
        return "expired"
    return "in_progress" if counts.in_progress else "completed"
