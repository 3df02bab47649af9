"""`GET /metrics` in Prometheus' text format, guarded by `ASSISTANTD_METRICS`:
`open` (anyone who can reach the port), `token:SECRET` (`Authorization: Bearer SECRET`), or
`off` (no route at all: 404 like any unknown URL)."""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from assistantd.errors import AuthenticationError
from assistantd.observability.metrics import Metrics


def add_metrics_route(app: FastAPI, metrics: Metrics, mode: str) -> None:
    secret = mode.removeprefix("token:") if mode.startswith("token:") else None

    @app.get("/metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        if secret is not None:
            scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else ""
            if not hmac.compare_digest(given.encode(), secret.encode()):
                raise AuthenticationError("The metrics endpoint needs its token (Bearer).")
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
