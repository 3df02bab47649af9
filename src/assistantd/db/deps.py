"""A route's transaction: a route that takes `ReadConn` or `WriteConn` gets one connection in one
transaction, committed when the endpoint returns (before the response is sent), rolled back if
it raises. A write transaction delivers the effects its services declared once it has committed
(assistantd.effects).

The routers are built with `route_class=TransactionRoute`, which wraps each route's handler:
the connection is opened when the dependency is solved (in the order of the endpoint's
parameters, so authentication and body validation come first, as before) and ended by the
wrapper once the handler returns. This replaces a yield dependency: FastAPI runs each one's
exit in an `AsyncExitStack` inside an anyio shielded cancel scope (sniffio's library lookup,
`current_task`, a scope per request), ~10 % of a CRUD read's CPU in py-spy under
`bench/crud_bench.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.services import get_services


class _Transaction:
    """The request's transaction, begun by the first dependency that asks for it."""

    __slots__ = ("_opened", "conn", "request", "write")

    def __init__(self, request: Request, write: bool) -> None:
        self.request = request
        self.write = write
        self._opened: AbstractAsyncContextManager[AsyncConnection] | None = None
        self.conn: AsyncConnection | None = None

    async def begin(self) -> AsyncConnection:
        if self.conn is None:
            db = get_services(self.request).db
            opening = db.write() if self.write else db.read()
            self.conn = await opening.__aenter__()  # (one that fails to open is not ended)
            self._opened = opening
        return self.conn

    async def end(self, error: BaseException | None) -> None:
        if self._opened is not None:
            opened, self._opened, self.conn = self._opened, None, None
            if error is None:
                await opened.__aexit__(None, None, None)
            else:
                await opened.__aexit__(type(error), error, error.__traceback__)


_current: ContextVar[_Transaction] = ContextVar("assistantd_route_transaction")


async def _conn() -> AsyncConnection:
    try:
        transaction = _current.get()
    except LookupError:
        raise RuntimeError(
            "ReadConn and WriteConn need a router built with route_class=TransactionRoute"
        ) from None
    return await transaction.begin()


async def _read() -> AsyncConnection:
    return await _conn()


async def _write() -> AsyncConnection:
    return await _conn()


ReadConn = Annotated[AsyncConnection, Depends(_read)]
WriteConn = Annotated[AsyncConnection, Depends(_write)]


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    found = {dependant.call} if dependant.call is not None else set()
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


class TransactionRoute(APIRoute):
    """An `APIRoute` whose handler runs in the route's transaction when it takes one (a write
    one when any of its dependencies asks for `WriteConn`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        calls = _calls(self.dependant)
        if not calls & {_read, _write}:
            return handler
        write = _write in calls

        async def in_transaction(request: Request) -> Response:
            transaction = _Transaction(request, write)
            token = _current.set(transaction)
            try:
                response = await handler(request)
            except BaseException as error:
                await transaction.end(error)
                raise
            finally:
                _current.reset(token)
            await transaction.end(None)
            return response

        return in_transaction
