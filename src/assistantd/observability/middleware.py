"""The HTTP seam of observability, a plain ASGI middleware (no per-request task or buffering).

For every request: a request id (`req_` + 32 hex, as OpenAI's) in `x-request-id` on the
response and in the logs; a client's `X-Client-Request-Id` echoed back and logged; the
request counted and timed by route template and status; a server span when tracing is on;
an access line when logging JSON.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from opentelemetry import trace
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
        request_id = "req_" + secrets.token_hex(16)
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
        try:
            # Few attributes: each costs as much again to export as to set (see the bench).
            with self.tracing.span(
                method,
                {
                    "http.request.method": method,
                    "assistantd.request_id": request_id,
                    "assistantd.client_request_id": client_id,
                },
                kind=trace.SpanKind.SERVER,
            ) as span:
                try:
                    await self.app(scope, receive, send_with_ids)
                except Exception:
                    # Errors the handlers did not turn into a response: answer here, so that
                    # the 500 still carries the ids.
                    errors.exception("unhandled error on %s %s", method, scope["path"])
                    if response_started:
                        raise
                    await ServerError().response()(scope, receive, send_with_ids)
                route = _route(scope)
                if span is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(trace.Status(trace.StatusCode.ERROR))
        finally:
            elapsed = time.perf_counter() - started
            route = _route(scope)
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
    label set stays small; unmatched paths share one label. Made from the path parameters the
    router found (a route object of an included router knows only its own part of the path)."""
    if scope.get("route") is None:
        return "unmatched"
    params: dict[str, Any] = scope.get("path_params") or {}
    if not params:
        return str(scope["path"])
    names = {str(value): name for name, value in params.items()}
    path = str(scope["path"])
    if "path" in params and path.endswith(str(params["path"])):  # a mount: /console/{path}
        return path.removesuffix(str(params["path"])).rstrip("/") + "/{path}"
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in path.split("/"))


def _client_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == CLIENT_ID_HEADER:
            text = value.decode("latin-1")[:MAX_CLIENT_ID]
            return "".join(ch for ch in text if ch.isprintable()) or None
    return None
