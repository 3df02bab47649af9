"""The message and ingestion state machines: every (from, to) pair and what a move sets."""

from __future__ import annotations

import itertools
from typing import get_args

import pytest

from assistantd.messages.schemas import Message, MessageStatus, Text, TextContentBlock
from assistantd.messages.state import (
    IllegalMessageTransition,
    advance_message,
    end_reason,
)
from assistantd.vector_stores import state as ingestion
from assistantd.vector_stores.schemas import (
    FileCounts,
    FileLastError,
    FileStatus,
    VectorStoreFile,
    VectorStoreFileBatch,
)

MESSAGE_STATUSES: tuple[MessageStatus, ...] = get_args(MessageStatus)
FILE_STATUSES: tuple[FileStatus, ...] = get_args(FileStatus)


def make_message(status: MessageStatus) -> Message:
    return Message(
        id="msg_1", created_at=1, thread_id="thread_1", role="assistant", content=[], status=status
    )


@pytest.mark.parametrize(("source", "target"), list(itertools.product(MESSAGE_STATUSES, repeat=2)))
def test_every_message_pair(source: MessageStatus, target: MessageStatus) -> None:
    message = make_message(source)
    if source != "in_progress" or target == "in_progress":
        with pytest.raises(IllegalMessageTransition):
            advance_message(message, target, 5, reason="run_failed")
        return
    moved = advance_message(message, target, 5, reason="run_failed")
    assert moved.status == target
    if target == "completed":
        assert (moved.completed_at, moved.incomplete_at, moved.incomplete_details) == (
            5,
            None,
            None,
        )
    else:
        assert (moved.incomplete_at, moved.completed_at) == (5, None)
        assert moved.incomplete_details is not None
        assert moved.incomplete_details.reason == "run_failed"


def test_message_changes_and_reasons() -> None:
    blocks = [TextContentBlock(text=Text(value="hi", annotations=[]))]
    done = advance_message(make_message("in_progress"), "completed", 3, content=blocks)
    assert done.content == blocks
    with pytest.raises(IllegalMessageTransition):
        advance_message(make_message("in_progress"), "incomplete", 3)
    assert [end_reason(end) for end in ("cancelled", "expired", "failed")] == [
        "run_cancelled",
        "run_expired",
        "run_failed",
    ]


def make_file(status: FileStatus) -> VectorStoreFile:
    return VectorStoreFile(id="file_1", created_at=1, vector_store_id="vs_1", status=status)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(FILE_STATUSES, repeat=2)))
def test_every_file_pair(source: FileStatus, target: FileStatus) -> None:
    error = FileLastError(code="server_error", message="boom")
    allowed = source == "in_progress" and target != "in_progress"
    if not allowed:
        with pytest.raises(ingestion.IllegalIngestionTransition):
            ingestion.advance_file(make_file(source), target, last_error=error)
        return
    moved = ingestion.advance_file(make_file(source), target, last_error=error)
    assert moved.status == target
    if target == "failed":
        with pytest.raises(ingestion.IllegalIngestionTransition):
            ingestion.advance_file(make_file(source), "failed")


def test_batch_status_follows_its_files() -> None:
    batch = VectorStoreFileBatch(id="vsfb_1", created_at=1, vector_store_id="vs_1")
    status = ingestion.batch_status
    assert status(batch, FileCounts(in_progress=1, completed=1, total=2)) == "in_progress"
    assert status(batch, FileCounts(completed=1, failed=1, total=2)) == "completed"
    assert status(batch, FileCounts(failed=2, total=2)) == "failed"
    assert status(batch, FileCounts()) == "completed"
    cancelled = ingestion.cancel_batch(batch)
    assert status(cancelled, FileCounts(failed=2, total=2)) == "cancelled"
    with pytest.raises(ingestion.IllegalIngestionTransition):
        ingestion.cancel_batch(cancelled)


def test_store_status() -> None:
    status = ingestion.store_status
    assert status(FileCounts(in_progress=1, total=1), expired=False) == "in_progress"
    assert status(FileCounts(completed=1, total=1), expired=False) == "completed"
    assert status(FileCounts(in_progress=1, total=1), expired=True) == "expired"
