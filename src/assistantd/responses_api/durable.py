"""Responses on PostgreSQL survive the node that generates them, as runs do (executor/leased.py).

* A stored response is inserted with its lease (`response_leases`), held by this node and
  renewed by its heartbeat (every `lease_heartbeat_s`).
* Its final state is written only while the lease is still this node's (`hold`, in the same
  transaction that deletes the lease), so a node that was taken for dead (a long stall) can
  never overwrite what the node that took it over wrote. Its events carry the lease's attempt
  too (`fence`, events/redis_broker.py): a claim raises the response's attempt in Redis before
  it commits, so nothing that node still publishes reaches the stream the new one continues.
* A heartbeat also claims the leases of dead nodes (expired, `FOR UPDATE SKIP LOCKED`). A
  background response is generated again here, from its stored request (`resume`), when that
  is safe, as a run taken over between model calls is executed again: its stream on the shared
  event broker shows nothing of an answer yet (only `response.created` and `in_progress`), so
  no output was seen and no tool call (a code execution, say) was under way. The new attempt
  goes on in the same stream, numbered after what was published, so a client that resumes it
  sees one output. Otherwise (an answer was under way, or the events are not shared: nothing
  says what was under way) it is ended cleanly: `failed` with `server_error`, or `cancelled`
  when a client had asked; its stream gets its last event.
* A cancel sent to any node marks the lease (`cancel`); the node that holds it sees that at
  its next heartbeat and cancels its task, and the cancelling node waits for the final state.
* Background responses publish their events to the broker as well, so that
  `GET /responses/{id}?stream=true` on any node (with the Redis broker) streams them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from pydantic import RootModel
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db.engine import Database
from assistantd.events.broker import Broker
from assistantd.events.models import StreamEvent
from assistantd.events.sse import DONE_FRAME
from assistantd.leases.heartbeat import Heartbeat
from assistantd.leases.store import Claimed
from assistantd.responses_api import lease_store, store
from assistantd.responses_api.lease_store import LEASES
from assistantd.responses_api.schemas import Response, ResponseError

log = logging.getLogger(__name__)

TAKEOVER = "The server generating this response stopped while it was under way."
CLAIM_BATCH = 32
TERMINAL = frozenset({"completed", "failed", "cancelled", "incomplete"})
ENDING = frozenset({"response.completed", "response.failed", "response.incomplete"})


@dataclass(frozen=True)
class Lease:
    response_id: str
    node: str
    attempt: int


# Generate a taken-over response again on this node: (lease, project, response, the number of
# its events already published) -> whether it was started (takeover.py).
Resume = Callable[[Lease, str, Response, int], Awaitable[bool]]

PRE_OUTPUT = 2  # events a stream has before any output: response.created, .in_progress


class _Data(RootModel[dict[str, Any]]):
    pass


class _Event(StreamEvent):
    """A response stream event as the broker carries it (the same SSE frame as events.frame)."""

    event: str
    data: _Data


class _EndingEvent(_Event):
    ends_stream: ClassVar[bool] = True


def _as_stream_event(event: dict[str, Any]) -> StreamEvent:
    kind = _EndingEvent if event["type"] in ENDING else _Event
    return kind(event=event["type"], data=_Data(event))


class Durable:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        *,
        node: str,
        ttl_s: float,
        heartbeat_s: float,
        cancel_local: Callable[[str], bool],
    ) -> None:
        self.db = db
        self.node = node
        self._broker = broker
        self._ttl_s = ttl_s
        self._heartbeat_s = heartbeat_s
        self._cancel_local = cancel_local
        self._held: dict[str, Lease] = {}
        # Every lease of this node is renewed: a response's lease is taken in the transaction
        # that inserts it, before that commits (see `take`).
        self._heart = Heartbeat(
            db,
            LEASES,
            node=node,
            ttl_s=ttl_s,
            interval_s=heartbeat_s,
            name="response-heartbeat",
            renew_held_only=False,
            claim_batch=CLAIM_BATCH,
        )
        self._ending: set[asyncio.Task[None]] = set()
        self.resume: Resume | None = None  # set by the lifespan once the services are built

    @property
    def shared_events(self) -> bool:
        """Whether other nodes can read the events this node publishes (Redis)."""
        return self._broker.shared

    async def start(self) -> None:
        async with self.db.write() as conn:  # left by a server from before the leases
            for response_id in await lease_store.unleased(conn):
                await _end(conn, response_id, "failed")
        self._heart.start(self._beat)

    async def stop(self) -> None:
        await self._heart.stop()
        await asyncio.gather(*self._ending, return_exceptions=True)

    # --- one response -------------------------------------------------------------------------

    async def take(self, conn: AsyncConnection, response_id: str) -> Lease:
        """The lease of a response inserted in `conn`'s transaction."""
        await LEASES.take(conn, response_id, self.node, self._ttl_s)
        lease = Lease(response_id, self.node, 1)
        self._held[response_id] = lease
        self._broker.fence(response_id, lease.attempt)  # its events are fenced as its writes
        return lease

    async def hold(self, conn: AsyncConnection, lease: Lease, *, final: bool) -> bool:
        """Whether this node may still write the response (and, `final`, lets the lease go)."""
        if not await LEASES.hold(conn, lease.response_id, lease.node, lease.attempt):
            log.warning("lost the lease of response %s: not writing it", lease.response_id)
            return False
        if final:
            await LEASES.release(conn, lease.response_id, lease.node, lease.attempt)
            self._held.pop(lease.response_id, None)
            self._broker.unfence(lease.response_id)  # (no later attempt can be: it is over)
        return True

    def forget(self, response_id: str) -> None:
        """The generation ended (after its stream's last event)."""
        self._held.pop(response_id, None)
        self._broker.unfence(response_id)

    def adopt(self, lease: Lease) -> None:
        """Hold a claimed lease for a generation of this node (renewed, fenced like a new one)."""
        self._held[lease.response_id] = lease
        self._broker.fence(lease.response_id, lease.attempt)

    def publisher(self, response_id: str, after: int) -> Callable[[dict[str, Any]], None]:
        """A publisher to the response's current stream (a taken-over one's: no new segment) of
        the events numbered `after` and later (the others were published by the last node)."""

        def publish(event: dict[str, Any]) -> None:
            if event["sequence_number"] >= after:
                self._broker.publish(response_id, _as_stream_event(event))

        return publish

    def open_stream(self, response_id: str) -> Callable[[dict[str, Any]], None] | None:
        """A publisher of the response's events to the shared broker, if there is one."""
        if not self.shared_events:
            return None
        self._broker.open(response_id)
        return lambda event: self._broker.publish(response_id, _as_stream_event(event))

    def close_stream(self, response_id: str) -> None:
        if self.shared_events:
            self._broker.close(response_id)  # (after an ending event it was closed already)

    async def follow(
        self, project: str, response_id: str, after: int
    ) -> AsyncIterator[dict[str, Any]]:
        """The events of a response generated on another node, from the broker. A reader can
        come before the stream does (the generating node's broker writes its opening in the
        background, and `in_progress` may be read first): while the response is not over and
        nothing came, it asks again."""
        while True:
            seen = False
            async for event in self._read(response_id, after):
                seen = True
                yield event
            if seen:
                return
            async with self.db.read() as conn:
                response = await store.get(conn, project, response_id)
            if response is None or response.status in TERMINAL:
                return
            await asyncio.sleep(min(self._heartbeat_s / 2, 0.1))

    async def _read(self, response_id: str, after: int) -> AsyncIterator[dict[str, Any]]:
        subscription = self._broker.subscribe(response_id)
        try:
            async for frame in subscription:
                if frame == DONE_FRAME:
                    return
                data = next((line for line in frame.split(b"\n") if line[:6] == b"data: "), None)
                if data is None:
                    continue  # a keep-alive
                event: dict[str, Any] = orjson.loads(data[6:])
                if "type" not in event:  # the broker's own error (Redis lost, events expired)
                    message = str(event.get("message", "The stream of events was lost."))
                    yield {"type": "error", "code": None, "message": message, "param": None}
                    return
                if event.get("sequence_number", after + 1) > after:
                    yield event
        finally:
            subscription.detach()

    async def cancel(self, project: str, response_id: str) -> Response | None:
        """Cancel a response under way on another node (or on none: its node died); the
        response once it has ended, or None if it does not end in time."""
        async with self.db.write() as conn:
            await lease_store.request_cancel(conn, response_id)
        deadline = time.monotonic() + self._ttl_s + 4 * self._heartbeat_s + 5.0
        while time.monotonic() < deadline:
            async with self.db.read() as conn:
                response = await store.get(conn, project, response_id)
            if response is None or response.status in TERMINAL:
                return response
            await asyncio.sleep(min(self._heartbeat_s / 2, 0.25))
        return None

    # --- heartbeat ----------------------------------------------------------------------------

    async def _beat(self) -> None:
        async def on_claim(claimed: list[Claimed]) -> None:
            await self._broker.supersede({c.key: c.attempt for c in claimed})

        beat = await self._heart.renew_and_claim(
            lambda: {key: lease.attempt for key, lease in self._held.items()}, on_claim=on_claim
        )
        lost = beat.lost()
        for response_id in lost:
            if response_id in self._held:  # (not ended meanwhile)
                log.warning("lost the lease of response %s", response_id)
                self._cancel_local(response_id)
        for response_id in beat.held:
            held = beat.renewed.get(response_id)
            if held is not None and held.flag and response_id not in lost:
                self._cancel_local(response_id)  # a client asked (on any node)
        for claimed in beat.claimed:
            log.info("took over response %s (attempt %d)", claimed.key, claimed.attempt)
            lease = Lease(claimed.key, self.node, claimed.attempt)
            self._broker.fence(lease.response_id, lease.attempt)  # (its ending, or a resume)
            task = asyncio.create_task(self._take_over(lease, claimed.flag))
            self._ending.add(task)
            task.add_done_callback(self._ending.discard)

    async def _take_over(self, lease: Lease, cancel: bool) -> None:
        if not cancel and self.resume is not None and self._broker.shared:
            found = await self._resumable(lease.response_id)
            if found is not None:
                project, response, published = found
                try:
                    if await self.resume(lease, project, response, published):
                        log.info("generating response %s again", lease.response_id)
                        return
                except Exception:
                    log.exception("could not generate response %s again", lease.response_id)
        await self._end_taken_over(lease, cancel)

    async def _resumable(self, response_id: str) -> tuple[str, Response, int] | None:
        """(project, response, events published) if the response may be generated again."""
        async with self.db.read() as conn:
            found = await store.get_by_id(conn, response_id)
        if found is None or not found[1].background or found[1].status in TERMINAL:
            return None
        from assistantd.events.redis_broker import RedisBroker  # redis: only when used

        assert isinstance(self._broker, RedisBroker)
        published = await self._broker.published(response_id)
        if not 0 < published <= PRE_OUTPUT:  # (none: the stream is lost, it says nothing)
            return None  # an answer was under way (and seen): not generated a second time
        return found[0], found[1], published

    async def _end_taken_over(self, lease: Lease, cancel: bool) -> None:
        status = "cancelled" if cancel else "failed"
        try:
            await self._end_and_publish(lease, status)
        finally:
            self._broker.unfence(lease.response_id)

    async def _end_and_publish(self, lease: Lease, status: str) -> None:
        async with self.db.write() as conn:
            if not await LEASES.hold(conn, lease.response_id, lease.node, lease.attempt):
                return
            ended = await _end(conn, lease.response_id, status)
            await LEASES.release(conn, lease.response_id, lease.node, lease.attempt)
        if ended is None or not self._broker.shared:
            return
        from assistantd.events.redis_broker import RedisBroker  # redis: only when used

        assert isinstance(self._broker, RedisBroker)
        if status == "failed":  # the stream's last event, numbered after what the node sent
            number = await self._broker.published(lease.response_id)
            event = {
                "type": "response.failed",
                "response": ended.model_dump(mode="json"),
                "sequence_number": number,
            }
            self._broker.publish(lease.response_id, _as_stream_event(event))
        self._broker.close(lease.response_id)


async def _end(conn: AsyncConnection, response_id: str, status: str) -> Response | None:
    found = await store.get_by_id(conn, response_id)
    if found is None:
        return None
    project, response = found
    update: dict[str, Any] = {"status": status}
    if status == "failed":
        update["error"] = ResponseError(code="server_error", message=TAKEOVER)
    ended = response.model_copy(update=update)
    await store.update(conn, project, ended)
    return ended
