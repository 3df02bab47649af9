"""Every route's endpoint and dependency is async: FastAPI runs a plain function in a worker
thread, a thread hop per request (on a busy machine, milliseconds before a run even starts)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from assistantd.app import create_app
from assistantd.db import deps
from tests.conftest import make_settings


def _sync_calls(dependant: Dependant, where: str) -> list[str]:
    found = []
    call = dependant.call
    if call is not None and not (
        inspect.iscoroutinefunction(call)
        or inspect.isasyncgenfunction(call)
        or inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004
    ):
        found.append(f"{where}: {getattr(call, '__qualname__', call)}")
    for sub in dependant.dependencies:
        found += _sync_calls(sub, where)
    return found


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """The app's routes, through included routers (FastAPI keeps them nested)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (included := getattr(route, "original_router", None)) is not None:
            found += _api_routes(included.routes)
    return found


def test_no_route_runs_a_function_in_a_worker_thread(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"))
    routes = _api_routes(app.router.routes)
    assert len(routes) > 50
    sync = [name for r in routes for name in _sync_calls(r.dependant, f"{r.methods} {r.path}")]
    assert sync == []


def _calls(dependant: Dependant) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def test_every_route_that_takes_a_connection_runs_in_the_routes_transaction(
    tmp_path: Path,
) -> None:
    """`ReadConn`/`WriteConn` are begun and ended by `TransactionRoute` (db/deps.py): a route of
    another class would fail at its first request."""
    app = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"))
    routes = _api_routes(app.router.routes)
    markers = {deps._read, deps._write}
    taking = [r for r in routes if _calls(r.dependant) & markers]
    assert len(taking) > 50
    wrong = [f"{r.methods} {r.path}" for r in taking if not isinstance(r, deps.TransactionRoute)]
    assert wrong == []
