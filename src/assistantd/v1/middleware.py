"""Routes v1 requests to the v1 face: `/v1/assistants...` and `/v1/threads...` with
`OpenAI-Beta: assistants=v1` are served by the routers mounted under `PREFIX`."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

PREFIX = "/_assistants_v1"
_PATHS = ("/v1/assistants", "/v1/threads")


def _is_v1(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"openai-beta" and b"assistants=v1" in value.replace(b" ", b""):
            return True
    return False


class V1Router:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(PREFIX):  # never reachable directly
                scope = {**scope, "path": "/v1/_not_found" + path}
            elif path.startswith(_PATHS) and _is_v1(scope):
                scope = {**scope, "path": PREFIX + path}
        await self.app(scope, receive, send)


def public_path(path: str) -> str:
    """The path the client asked for (for error messages)."""
    return path.removeprefix(PREFIX)
