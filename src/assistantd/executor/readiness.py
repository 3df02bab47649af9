"""Before a run's first model call: wait for the thread's files to be searchable.

Files attached to a thread (message attachments for file search, or
`tool_resources.file_search.vector_stores` on thread create) are ingested in the background. As
OpenAI's runs did, a run that can search waits up to 60 s for the thread's vector store files
still `in_progress`, so its first search finds them; the assistant's stores are not waited for.
The wait is a plain sleep loop in the run's task, so cancelling the run ends it at once.
"""

from __future__ import annotations

import asyncio
import time

from assistantd.db.engine import Database
from assistantd.runs.schemas import Run
from assistantd.threads import store as threads_store
from assistantd.vector_stores import store as vector_stores_store

WAIT_S = 60.0
POLL_S = 0.2


async def wait_for_thread_files(
    db: Database, project: str, run: Run, *, wait_s: float = WAIT_S, poll_s: float = POLL_S
) -> None:
    """Return once no file of the thread's stores is `in_progress`, or after `wait_s`."""
    if not any(tool.type == "file_search" for tool in run.tools):
        return
    deadline = time.monotonic() + wait_s
    while await _ingesting(db, project, run.thread_id) and time.monotonic() < deadline:  # noqa: ASYNC110 (polls the database)
        await asyncio.sleep(poll_s)


async def _ingesting(db: Database, project: str, thread_id: str) -> bool:
    async with db.read() as conn:
        thread = await threads_store.get(conn, project, thread_id)
        resources = thread.tool_resources if thread is not None else None
        if resources is None or resources.file_search is None:
            return False
        for store_id in resources.file_search.vector_store_ids:
            counts, _ = await vector_stores_store.file_counts(conn, store_id)
            if counts.in_progress:
                return True
    return False
