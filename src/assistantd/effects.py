"""Side effects after commit: what a service declares on its write transaction, done once the
transaction has committed.

A service that changes the database and wants the world told (a run's stream events published,
the run handed to the scheduler, files queued for ingestion, a thread's sandbox files removed)
declares it on the transaction's outbox, `outbox(conn).publish(...)`, instead of doing it.
`Database.write` delivers the outbox once the transaction has committed, in the order declared;
a transaction that rolls back drops it, so nothing is announced, run or deleted that did not
happen. Routers call one service and never reach the broker, the scheduler or the ingestor.

Each effect goes through one method of its target's protocol (`Broker.publish`,
`RunScheduling.submit`, `CancelChannel.send`, `IngestionQueue.submit`, ...), so a cross-process
broker or a leased scheduler replaces the in-process one without changes here. A database with
no outboxes drops what is declared (a server picks up files left `in_progress` when it boots);
the CLI's `import` gives its database an outbox that indexes the files it imported.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db.engine import OUTBOX
from assistantd.events.broker import Broker, Subscription
from assistantd.events.cancels import CancelChannel
from assistantd.events.models import StreamEvent
from assistantd.files.blobs import BlobStore
from assistantd.tools.code_interpreter.follow import forget
from assistantd.vector_stores.ingestion import Job

log = logging.getLogger(__name__)


class RunScheduling(Protocol):
    def submit(self, run_id: str, attempt: int | None = None) -> None:
        """Run (or resume) `run_id`; `attempt`: its lease was taken by `take_in`."""

    async def take_in(self, conn: AsyncConnection, run_id: str) -> int | None:
        """Take the run's lease in the transaction that queued the run (so it commits with
        it, one commit fewer before the run starts): the attempt, or None (nothing taken,
        `submit` takes it or offers it)."""


class IngestionQueue(Protocol):
    def submit(self, job: Job) -> None: ...

    def cancel_batch(self, batch_id: str) -> None: ...


class SandboxSessions(Protocol):
    async def close_session(self, session_key: str, *, delete_files: bool = False) -> None: ...


@dataclass(frozen=True)
class Targets:
    """The running parts that effects are delivered to: a server's, built in the lifespan
    (the CLI's `import` has only an ingestor). An effect whose target is missing is dropped."""

    broker: Broker | None = None
    scheduler: RunScheduling | None = None
    cancels: CancelChannel | None = None
    ingestor: IngestionQueue | None = None
    sandbox: SandboxSessions | None = None
    blobs: BlobStore | None = None
    includes: dict[str, list[str]] = field(default_factory=dict)  # the executor's `include[]`


class Stream:
    """A run's event stream opened by a transaction: subscribed once the transaction has
    committed and before its events are published, so the client misses none."""

    def __init__(self, subscription: Subscription | None = None) -> None:
        self._subscription = subscription  # set on delivery when the outbox opens the stream

    async def frames(self) -> AsyncGenerator[bytes, None]:
        """The SSE frames (none if the transaction never committed)."""
        subscription = self._subscription
        if subscription is None:
            return
        try:
            async for frame in subscription:
                yield frame
        finally:
            subscription.detach()  # the client went away: the run goes on


Effect = Callable[[Targets], Awaitable[None] | None]


class Outbox:
    """The effects one write transaction declares; delivered in order once it commits."""

    def __init__(self, targets: Targets | None) -> None:
        self._targets = targets
        self._effects: list[Effect] = []
        self._streamed: set[str] = set()
        self._scheduled: list[str] = []  # runs to hand to the scheduler
        self._taken: dict[str, int] = {}  # run id -> attempt of the lease taken in `prepare`

    def stream(self, run_id: str) -> Stream:
        """Open a fresh stream segment for `run_id` and subscribe to it."""
        stream = Stream()
        self._streamed.add(run_id)

        def subscribe(targets: Targets) -> None:
            if targets.broker is not None:
                targets.broker.open(run_id)
                stream._subscription = targets.broker.subscribe(run_id)

        self._effects.append(subscribe)
        return stream

    def publish(self, run_id: str, events: Iterable[StreamEvent]) -> None:
        queued = list(events)

        def publish(targets: Targets) -> None:
            if targets.broker is not None:
                for event in queued:
                    targets.broker.publish(run_id, event)

        self._effects.append(publish)

    def show(self, run_id: str, include: list[str]) -> None:
        """The run's streamed steps show what its create request's `include[]` asks for."""

        def remember(targets: Targets) -> None:
            targets.includes[run_id] = include

        self._effects.append(remember)

    def schedule(self, run_id: str) -> None:
        """Hand the run to the scheduler, after what was published for it (when it streams,
        those events come first, whichever process publishes the next ones)."""
        streamed = run_id in self._streamed
        self._scheduled.append(run_id)

        async def schedule(targets: Targets) -> None:
            if streamed and targets.broker is not None:
                await targets.broker.flush()
            if targets.scheduler is not None:
                targets.scheduler.submit(run_id, self._taken.get(run_id))

        self._effects.append(schedule)

    def cancel_run(self, run_id: str) -> None:
        """The run is `cancelling`: signal the process that runs it (this one or another)."""

        async def cancel(targets: Targets) -> None:
            if targets.broker is not None:  # `cancelling` before what the executor publishes
                await targets.broker.flush()
            if targets.cancels is not None:
                await targets.cancels.send(run_id)

        self._effects.append(cancel)

    def ingest(self, job: Job) -> None:
        """Index a file attached in this transaction."""

        def ingest(targets: Targets) -> None:
            if targets.ingestor is not None:
                targets.ingestor.submit(job)

        self._effects.append(ingest)

    def cancel_ingestion(self, batch_id: str) -> None:
        """Stop the batch's files that are still being ingested."""

        def cancel(targets: Targets) -> None:
            if targets.ingestor is not None:
                targets.ingestor.cancel_batch(batch_id)

        self._effects.append(cancel)

    def delete_sandbox_files(self, thread_id: str) -> None:
        """The thread's code-interpreter session and files go with it, and the record of its
        /mnt/data that lets those files follow it to another node."""

        async def delete(targets: Targets) -> None:
            if targets.sandbox is not None:
                await targets.sandbox.close_session(thread_id, delete_files=True)
            if targets.blobs is not None:
                await forget(targets.blobs, thread_id)

        self._effects.append(delete)

    async def prepare(self, conn: AsyncConnection) -> None:
        """The transaction's body is done, not committed yet: the leases of the runs it hands
        to the scheduler are taken in it (rolled back with it if it fails)."""
        scheduler = self._targets.scheduler if self._targets is not None else None
        if scheduler is None:
            return
        for run_id in dict.fromkeys(self._scheduled):
            attempt = await scheduler.take_in(conn, run_id)
            if attempt is not None:
                self._taken[run_id] = attempt

    async def deliver(self) -> None:
        """Do what was declared, in order. The transaction has committed, so one effect failing
        is logged and does not stop the others."""
        effects, self._effects = self._effects, []
        if self._targets is None:
            return
        for effect in effects:
            try:
                done = effect(self._targets)
                if done is not None:
                    await done
            except Exception:
                log.exception("an effect after commit failed")


def outbox(conn: AsyncConnection) -> Outbox:
    """The outbox of the write transaction `conn` is in (one that drops everything when the
    database has none, as in the CLI)."""
    found = conn.info.get(OUTBOX)
    return found if isinstance(found, Outbox) else Outbox(None)
