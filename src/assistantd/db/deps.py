"""FastAPI dependencies that hand a route one transaction, committed when the route returns
(before the response is sent), rolled back if it raises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db.engine import Database


async def _read(request: Request) -> AsyncIterator[AsyncConnection]:
    db: Database = request.app.state.db
    async with db.read() as conn:
        yield conn


async def _write(request: Request) -> AsyncIterator[AsyncConnection]:
    db: Database = request.app.state.db
    async with db.write() as conn:
        yield conn


ReadConn = Annotated[AsyncConnection, Depends(_read, scope="function")]
WriteConn = Annotated[AsyncConnection, Depends(_write, scope="function")]
