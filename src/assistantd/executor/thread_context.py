"""The model's context for a run's next call: the thread's messages and tool steps read from the
database, rendered as chat messages (images as data URLs) and truncated to the budget."""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db.engine import Database
from assistantd.executor.context import ContextResult, build_context
from assistantd.executor.transcript import render_transcript
from assistantd.files import store as files_store
from assistantd.files.blobs import BlobStore
from assistantd.files.schemas import is_placeholder
from assistantd.messages import store as messages_store
from assistantd.messages.schemas import ImageFileContentBlock, Message
from assistantd.run_steps import store as steps_store
from assistantd.run_steps.schemas import RunStep
from assistantd.runs.schemas import Run
from assistantd.tools.base import CODE_INTERPRETER_FUNCTION

ON_LOOP_CHARS = 16_384
"""Threads whose stored messages hold fewer characters than this (and no tool steps) are parsed,
rendered and counted on the event loop: well under a millisecond there, while each hop to a
worker thread and back costs more, up to the interpreter's 5 ms switch interval when the loop
is busy (a 2-message thread's run paid two hops before its model call)."""


@dataclass(frozen=True)
class ThreadRows:
    """A thread's stored messages and steps, (sort key, body) each, oldest first."""

    messages: list[tuple[str, str]]
    steps: list[tuple[str, str]]


async def read_thread(conn: AsyncConnection, thread_id: str) -> ThreadRows:
    """What a context is built from (in `conn`'s transaction: the run's start reads it in
    its own on PostgreSQL, one transaction fewer before the model call)."""
    messages = await messages_store.rows_of_thread(conn, thread_id)
    return ThreadRows(messages, await steps_store.rows_of_thread(conn, thread_id))


async def load_context(
    db: Database,
    blobs: BlobStore,
    project: str,
    run: Run,
    prompt_left: int | None,
    context_windows: Mapping[str, int],
    thread: ThreadRows | None = None,
) -> ContextResult:
    """The context of the run's next call, from `thread` if it was read already (nothing
    was written to the thread since), else read now."""
    if thread is None:
        async with db.read() as conn:
            thread = await read_thread(conn, run.thread_id)
    keys: dict[str, str] = {}  # id -> sort key (imported objects keep foreign ids)
    rows = thread.messages
    # parsing, rendering and counting a long thread happen off the event loop (each
    # took tens of ms there, during which every other stream of the process waited)
    small = sum(len(body) for _, body in rows) + len(run.instructions) < ON_LOOP_CHARS
    # only a long thread's parsed messages are remembered (re-reading it is what costs):
    # a short thread's are parsed again in well under a millisecond, and remembering
    # every thread's made the cache grow over a soak of new threads to its bound
    parse = functools.partial(
        messages_store.parse_thread, rows, run.thread_id, keys, shared=not small
    )
    thread_messages = parse() if small else await asyncio.to_thread(parse)
    steps = steps_store.tool_steps(thread.steps, run.thread_id, keys)
    images = await _image_urls(db, blobs, project, thread_messages)

    def render_and_count() -> ContextResult:
        items: list[Message | RunStep] = [*thread_messages, *steps]
        items.sort(key=lambda item: _order_key(keys[item.id]))
        rendered = render_transcript(
            items,
            image_url_for=images.get,
            tool_names={
                "code_interpreter": CODE_INTERPRETER_FUNCTION,
                "file_search": "file_search",
            },
        )
        return build_context(
            run.instructions or None,
            rendered,
            model=run.model,
            strategy=run.truncation_strategy,
            max_prompt_tokens=prompt_left,
            context_windows=context_windows,
        )

    if small and not steps and not images:
        return render_and_count()
    return await asyncio.to_thread(render_and_count)


async def _image_urls(
    db: Database, blobs: BlobStore, project: str, messages: list[Message]
) -> dict[str, str]:
    """Data URLs for the image files in the thread (vision models get the pixels)."""
    ids = {
        part.image_file.file_id
        for message in messages
        for part in message.content
        if isinstance(part, ImageFileContentBlock)
    }
    urls: dict[str, str] = {}
    if not ids:
        return urls
    async with db.read() as conn:
        files = await files_store.get_many(conn, project, sorted(ids))
    for file in files:
        if is_placeholder(file):
            continue  # imported without its bytes
        data = await blobs.read(file.id)
        kind = "png" if data.startswith(b"\x89PNG") else "jpeg"
        encoded = await asyncio.to_thread(base64.b64encode, data)  # MBs: not on the loop
        urls[file.id] = f"data:image/{kind};base64,{encoded.decode()}"
    return urls


def _order_key(sort_key: str) -> str:
    """Sort keys of every kind order by creation time after their prefix (see ids.py)."""
    return sort_key.split("_", 1)[-1].split("-", 1)[-1]
