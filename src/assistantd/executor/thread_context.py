"""The model's context for a run's next call: the thread's messages and tool steps read from the
database, rendered as chat messages (images as data URLs) and truncated to the budget."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db.engine import Database
from assistantd.executor.context import ContextResult, build_context
from assistantd.executor.transcript import render_transcript
from assistantd.executor.transcripts import Rows, Transcript, Transcripts
from assistantd.files import store as files_store
from assistantd.files.blobs import BlobStore
from assistantd.files.schemas import is_placeholder
from assistantd.messages import store as messages_store
from assistantd.messages.schemas import ImageFileContentBlock, Message
from assistantd.run_steps import store as steps_store
from assistantd.run_steps.schemas import RunStep
from assistantd.runs.schemas import Run
from assistantd.tokens import count_message, encoding_name_for_model
from assistantd.tools.base import CODE_INTERPRETER_FUNCTION

ON_LOOP_CHARS = 16_384
"""Threads whose stored messages hold fewer characters than this (and no tool steps) are parsed,
rendered and counted on the event loop: well under a millisecond there, while each hop to a
worker thread and back costs more, up to the interpreter's 5 ms switch interval when the loop
is busy (a 2-message thread's run paid two hops before its model call)."""


Parsed = tuple[list[Message], list[RunStep]]
_transcripts = Transcripts(limit=4_000_000)  # ~4 MB of rows (8 long threads of this bench's)


@dataclass(frozen=True)
class ThreadRows:
    """A thread's stored messages and steps, (sort key, body) each, oldest first."""

    messages: Rows
    steps: Rows


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
    encoding = encoding_name_for_model(run.model)
    base = _transcripts.get(run.thread_id)
    tail = None if base is None or base.encoding != encoding else _tail(base, thread)
    if base is None or tail is None:
        base, tail = Transcript(encoding), (thread.messages, thread.steps)
    new_messages, new_steps = tail
    new_chars = sum(len(body) for _, body in new_messages) + sum(len(b) for _, b in new_steps)
    # only a long thread's parsed messages and transcript are remembered (re-reading it is
    # what costs): a short thread's are parsed again in well under a millisecond, and
    # remembering every thread's made the caches grow over a soak of new threads
    chars = base.chars + new_chars
    long = chars >= ON_LOOP_CHARS
    # parsing, rendering and counting many rows happen off the event loop (a long
    # thread's took tens of ms there, during which every other stream of the process waited)
    on_loop = new_chars + len(run.instructions) < ON_LOOP_CHARS
    keys: dict[str, str] = {}  # id -> sort key (imported objects keep foreign ids)

    def parse() -> Parsed:
        found = messages_store.parse_thread(new_messages, run.thread_id, keys, shared=long)
        return found, steps_store.tool_steps(new_steps, run.thread_id, keys)

    def render_and_count(
        parsed: Parsed, images: Mapping[str, str]
    ) -> tuple[ContextResult, Transcript]:
        items: list[Message | RunStep] = [*parsed[0], *parsed[1]]
        items.sort(key=lambda item: _order_key(keys[item.id]))
        searches = dict(base.searches)
        rendered = render_transcript(
            items,
            image_url_for=images.get,
            tool_names={
                "code_interpreter": CODE_INTERPRETER_FUNCTION,
                "file_search": "file_search",
            },
            searches=searches,
        )
        transcript = Transcript(
            encoding,
            base.messages + new_messages,
            base.steps + new_steps,
            max([base.last_key, *(_order_key(key) for key, _ in (*new_messages, *new_steps))]),
            base.rendered + rendered,
            base.counts + [count_message(message, run.model) for message in rendered],
            searches,
        )
        built = build_context(
            run.instructions or None,
            transcript.rendered,
            model=run.model,
            strategy=run.truncation_strategy,
            max_prompt_tokens=prompt_left,
            context_windows=context_windows,
            counts=transcript.counts,
        )
        return built, transcript

    def without_images() -> tuple[Parsed, tuple[ContextResult, Transcript] | None]:
        """Parsed, and rendered too when no image is to be read (one hop for both)."""
        parsed = parse()
        return parsed, None if _image_ids(parsed[0]) else render_and_count(parsed, {})

    parsed, done = without_images() if on_loop else await asyncio.to_thread(without_images)
    if done is None:  # images: their data URLs are read first, and the thread is not kept
        images = await _image_urls(db, blobs, project, _image_ids(parsed[0]))
        done = (
            render_and_count(parsed, images)
            if on_loop and not images
            else await asyncio.to_thread(render_and_count, parsed, images)
        )
        _transcripts.drop(run.thread_id)
    elif long:
        _transcripts.put(run.thread_id, done[1], chars)
    else:
        _transcripts.drop(run.thread_id)  # (a thread that was long lost messages)
    return done[0]


def _tail(base: Transcript, thread: ThreadRows) -> tuple[Rows, Rows] | None:
    """The rows of `thread` after `base`'s, if `thread` starts with `base`'s rows and the rest
    sort after them (rendering them after `base` gives what rendering it all would)."""
    tail = base.extended_by(thread.messages, thread.steps)
    if tail is None:
        return None
    if any(_order_key(key) <= base.last_key for key, _ in (*tail[0], *tail[1])):
        return None
    return tail


def _image_ids(messages: list[Message]) -> set[str]:
    return {
        part.image_file.file_id
        for message in messages
        for part in message.content
        if isinstance(part, ImageFileContentBlock)
    }


async def _image_urls(
    db: Database, blobs: BlobStore, project: str, ids: set[str]
) -> dict[str, str]:
    """Data URLs for the image files `ids` of the thread (vision models get the pixels)."""
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
