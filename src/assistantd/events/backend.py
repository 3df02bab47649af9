"""Choose the event broker and the cancel channel from the settings.

`ASSISTANTD_REDIS_URL` unset: the in-process broker and direct cancels (one process only).
Set: Redis Streams for events and Redis pub/sub for cancels, shared by every process that names
the same Redis and `ASSISTANTD_REDIS_PREFIX`.
"""

from __future__ import annotations

from assistantd.events.broker import Broker, LocalBroker
from assistantd.events.cancels import CancelChannel, LocalCancels, RedisCancels
from assistantd.settings import Settings

KEEPALIVE_S = 15.0
"""Silence after which a stream gets a keep-alive comment (sse-starlette's ping interval)."""


def make_events(settings: Settings) -> tuple[Broker, CancelChannel]:
    # The subscriptions send each stream's keep-alives (after KEEPALIVE_S of silence; the
    # response writes them as sse-starlette's ping comment, responses.EventStream).
    if not settings.redis.url:
        return LocalBroker(keepalive_s=KEEPALIVE_S, ttl_s=settings.events.ttl_s), LocalCancels()
    from assistantd.events.redis_broker import RedisBroker, connect  # redis: only when used

    client = connect(settings.redis.url)
    broker = RedisBroker(
        client,
        prefix=settings.redis.prefix,
        ttl_s=settings.events.ttl_s,
        maxlen=settings.events.maxlen,
        keepalive_s=KEEPALIVE_S,
    )
    return broker, RedisCancels(client, settings.redis.prefix)
