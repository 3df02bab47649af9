"""Building a run's context keeps no per-thread memory for short threads: the parsed-message
cache is for long threads (re-read on every model call); a soak of one-message threads filled
it with every thread's message (~10 tracked objects each) until its 4 M-character bound."""

from __future__ import annotations

from pathlib import Path

from assistantd import ids
from assistantd.db.engine import Database
from assistantd.db.migrate import upgrade_async
from assistantd.executor.thread_context import ON_LOOP_CHARS, load_context
from assistantd.files.blobs import LocalBlobStore
from assistantd.messages import store as messages_store
from assistantd.messages.schemas import Message, Text, TextContentBlock
from assistantd.runs.schemas import Run
from assistantd.threads import store as threads_store
from assistantd.threads.schemas import Thread


async def _thread_with(db: Database, texts: list[str]) -> Run:
    thread = Thread(id=ids.new_id(ids.THREAD), created_at=1)
    async with db.write() as conn:
        await threads_store.insert(conn, "p", thread)
        for text in texts:
            message = Message(
                id=ids.new_id(ids.MESSAGE),
                created_at=1,
                thread_id=thread.id,
                role="user",
                content=[TextContentBlock(text=Text(value=text))],
            )
            await messages_store.insert(conn, "p", message)
    return Run(
        id=ids.new_id(ids.RUN), created_at=1, thread_id=thread.id, assistant_id="a", model="gpt-4o"
    )


async def test_short_threads_leave_the_parse_cache_as_it_was(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    await upgrade_async(url)
    db = Database(url)
    blobs = LocalBlobStore(tmp_path / "files")
    try:
        cached = len(messages_store._parsed)
        for n in range(30):
            run = await _thread_with(db, [f"question {n}"])
            built = await load_context(db, blobs, "p", run, None, {})
            assert built.messages[-1] == {"role": "user", "content": f"question {n}"}
        assert len(messages_store._parsed) == cached
        # a long thread's messages are remembered: its next model call re-reads them
        long_run = await _thread_with(db, ["x" * (ON_LOOP_CHARS // 4)] * 5)
        await load_context(db, blobs, "p", long_run, None, {})
        assert len(messages_store._parsed) == cached + 5
    finally:
        await db.dispose()
