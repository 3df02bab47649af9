"""Routes of the console: the static app under /console/ and its usage aggregate.

The app's files ship inside the package (`console/static`); nothing is loaded from elsewhere,
which the Content-Security-Policy enforces in the browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
from fastapi import APIRouter, FastAPI, Query
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from assistantd.auth import Project
from assistantd.console.usage import usage
from assistantd.db.deps import ReadConn, TransactionRoute

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}

router = APIRouter(prefix="/console", include_in_schema=False, route_class=TransactionRoute)


@router.get("/api/usage")
async def project_usage(
    project: Project, conn: ReadConn, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> Response:
    return Response(orjson.dumps(await usage(conn, project, days)), media_type="application/json")


@router.get("")
async def console_root() -> RedirectResponse:
    return RedirectResponse("console/", status_code=308)  # relative: works behind a prefix


class ConsoleFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def add_console(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/console", ConsoleFiles(directory=STATIC, html=True), name="console")
