"""Choose the event broker and the cancel channel from the settings.

`ASSISTANTD_REDIS_URL` unset: the in-process broker and direct cancels (one process only).
Set: Redis Streams for events and Redis pub/sub for cancels, shared by every process that names
the same Redis and `ASSISTANTD_REDIS_PREFIX`.
"""

from __future__ import annotations

from assistantd.events.broker import Broker, LocalBroker
from assistantd.events.cancels import CancelChannel, LocalCancels, RedisCancels
from assistantd.settings import Settings


def make_events(settings: Settings) -> tuple[Broker, CancelChannel]:
    # keepalive_s=None: sse-starlette sends the keep-alive pings of every stream
    if not settings.redis.url:
        return LocalBroker(keepalive_s=None, ttl_s=settings.events.ttl_s), LocalCancels()
    from assistantd.events.redis_broker import RedisBroker, connect  # redis: only when used

    client = connect(settings.redis.url)
    broker = RedisBroker(
        client,
        prefix=settings.redis.prefix,
        ttl_s=settings.events.ttl_s,
        maxlen=settings.events.maxlen,
    )
    return broker, RedisCancels(client, settings.redis.prefix)
