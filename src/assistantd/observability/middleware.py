"""The HTTP seam of observability, a plain ASGI middleware (no per-request task or buffering).

For every request: a request id (`req_` + 32 hex, as OpenAI's) in `x-request-id` on the
response and in the logs; a client's `X-Client-Request-Id` echoed back and logged; the
request counted and timed by route template and status; a server span when tracing is on;
an access line when logging JSON.
"""

from __future__ import annotations

import logging
import random
import time

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistantd.errors import ServerError
from assistantd.observability import logs
from assistantd.observability.metrics import Metrics
from assistantd.observability.tracing import Tracing

log = logging.getLogger("assistantd.access")
errors = logging.getLogger("assistantd")

CLIENT_ID_HEADER = b"x-client-request-id"
MAX_CLIENT_ID = 512  # OpenAI's limit on X-Client-Request-Id


class Observe:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics | None,
        tracing: Tracing,
        access_log: bool,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.tracing = tracing
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # Not secret, only unique: `random` (reseeded in forked children) costs no system call,
        # unlike `secrets`, which was a tenth of a traced request's CPU on a busy machine.
        request_id = f"req_{random.getrandbits(128):032x}"
        client_id = _client_id(scope)
        headers = [(b"x-request-id", request_id.encode())]
        if client_id is not None:
            headers.append((b"x-client-request-id", client_id.encode()))
        status = 500
        response_started = False

        async def send_with_ids(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        tokens = (logs.request_id.set(request_id), logs.client_request_id.set(client_id))
        method = scope["method"]
        span = self.tracing.start_request(method, request_id, client_id)
        route = "unmatched"
        try:
            try:
                await self.app(scope, receive, send_with_ids)
            except Exception as error:
                # Errors the handlers did not turn into a response: answer here, so that the
                # 500 still carries the ids.
                errors.exception("unhandled error on %s %s", method, scope["path"])
                if span is not None:
                    self.tracing.request_error(span, error)
                if response_started:
                    raise
                await ServerError().response()(scope, receive, send_with_ids)
        finally:
            elapsed = time.perf_counter() - started
            route = _route(scope)
            if span is not None:
                self.tracing.end_request(span, method, route, status)
            if self.metrics is not None:
                self.metrics.http_request(method, route, status, elapsed)
            if self.access_log:
                log.info(
                    "%s %s %s",
                    method,
                    scope["path"],
                    status,
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )
            logs.request_id.reset(tokens[0])
            logs.client_request_id.reset(tokens[1])


def _route(scope: Scope) -> str:
    """The matched route's template (`/v1/threads/{thread_id}`), never the raw path, so the
    label set stays small; unmatched paths share one label. A route object knows only its own
    part of the template (`/threads/{thread_id}`: FastAPI keeps included routers nested), so
    the prefix is the path's segments before it, one split per request."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    path = str(scope["path"])
    template = str(getattr(route, "path", "") or "")
    if isinstance(route, Mount) or not template or ":path}" in template:
        return _route_by_params(scope, path)
    segments = path.split("/")
    keep = len(segments) - template.count("/")
    return "/".join(segments[:keep]) + template if keep > 0 else template


def _route_by_params(scope: Scope, path: str) -> str:
    """The template rebuilt from the path parameters (mounts: `/console/{path}`)."""
    params: dict[str, object] = scope.get("path_params") or {}
    if not params:
        return path
    if "path" in params and path.endswith(str(params["path"])):
        return path.removesuffix(str(params["path"])).rstrip("/") + "/{path}"
    names = {str(value): name for name, value in params.items()}
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in path.split("/"))


def _client_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == CLIENT_ID_HEADER:
            text = value.decode("latin-1")[:MAX_CLIENT_ID]
            return "".join(ch for ch in text if ch.isprintable()) or None
    return None
