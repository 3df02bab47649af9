"""FastAPI dependencies that hand a route one transaction, committed when the route returns
(before the response is sent), rolled back if it raises. A write transaction delivers the
effects its services declared once it has committed (assistantd.effects)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.services import get_services


async def _read(request: Request) -> AsyncIterator[AsyncConnection]:
    async with get_services(request).db.read() as conn:
        yield conn


async def _write(request: Request) -> AsyncIterator[AsyncConnection]:
    async with get_services(request).db.write() as conn:
        yield conn


ReadConn = Annotated[AsyncConnection, Depends(_read, scope="function")]
WriteConn = Annotated[AsyncConnection, Depends(_write, scope="function")]
