"""Every route is reached by its own paths: the app tries its routers in the order they were
included (app.py puts the routes that call the model first), and a route tried earlier whose
pattern also matches (`/threads/{thread_id}` for `/threads/runs`) would take its requests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import compile_path

from assistantd.app import create_app
from tests.conftest import make_settings

PARAM = re.compile(r"\{[^}]+\}")


def _in_order(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """(full path, route) as the app tries them: included routers' routes in their place."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif (included := getattr(route, "original_router", None)) is not None:
            found += _in_order(included.routes, prefix + route.include_context.prefix)
    return found


def test_every_route_is_the_first_match_of_its_own_paths(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"))
    routes = [(path, compile_path(path)[0], route) for path, route in _in_order(app.router.routes)]
    assert len(routes) > 50
    assert any(path == "/v1/threads/runs" for path, _regex, _route in routes)
    shadowed = []
    for path, _regex, route in routes:
        sample = PARAM.sub("x_1", path)  # an id in each parameter's place
        for method in route.methods:
            first = next(
                other
                for other_path, regex, other in routes
                if method in other.methods and regex.fullmatch(sample)
            )
            if first is not route:
                shadowed.append(f"{method} {path} is taken by {first.path}")
    assert shadowed == []
