"""The API error tree and the one renderer of OpenAI's error envelope.

    APIError (500, server_error)
    ├── InvalidRequestError (400, invalid_request_error)    param names the offending field
    │   ├── NotFoundError (404)                              "No assistant found with id 'asst_x'."
    │   ├── ActiveRunError (400)                             the thread lock
    │   └── MethodNotAllowedError (405)
    ├── AuthenticationError (401, invalid_api_key)
    └── ServiceUnavailableError (503)
        └── OverloadedError (503, Retry-After)               past capacity: retry shortly
            ├── DrainingError                                this node is shutting down
            └── DatabaseUnavailableError                     the database can't be reached

Every error body is `{"error": {"message", "type", "param", "code"}}`. Upstream model failures are
never raised as APIError: they end the run with `last_error`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
from starlette.responses import Response


class APIError(Exception):
    status_code: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> Response:
        return Response(
            orjson.dumps(self.body()),
            status_code=self.status_code,
            media_type="application/json",
            # Errors are final: the SDK must not retry them on its own.
            headers={"x-should-retry": "false"} if self.status_code < 500 else None,
        )


class InvalidRequestError(APIError):
    status_code = 400
    type = "invalid_request_error"


class NotFoundError(InvalidRequestError):
    status_code = 404

    @classmethod
    def for_id(cls, kind: str, object_id: str, *, param: str | None = None) -> NotFoundError:
        return cls(f"No {kind} found with id '{object_id}'.", param=param)


class ActiveRunError(InvalidRequestError):
    pass


class MethodNotAllowedError(InvalidRequestError):
    status_code = 405


class AuthenticationError(APIError):
    status_code = 401
    type = "invalid_request_error"

    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_api_key")


class ServiceUnavailableError(APIError):
    status_code = 503
    type = "server_error"


class OverloadedError(ServiceUnavailableError):
    """The server is past its capacity (e.g. no database connection came free in time). The
    request changed nothing; `Retry-After` tells clients (the SDKs honour it) when to retry."""

    def __init__(self, retry_after_s: int = 1) -> None:
        super().__init__("The server is overloaded. Please retry your request shortly.")
        self.retry_after_s = retry_after_s

    def response(self) -> Response:
        response = super().response()
        response.headers["retry-after"] = str(self.retry_after_s)
        return response


class DrainingError(OverloadedError):
    """This node is shutting down (SIGTERM): it takes no new run; another node (or this one,
    restarted) will. Nothing was changed; `Retry-After` says when to try again."""

    def __init__(self, retry_after_s: int = 1) -> None:
        super().__init__(retry_after_s)
        self.message = "The server is shutting down and takes no new runs. Please retry shortly."


class ServerError(APIError):
    """An unexpected bug: the message stays generic, the traceback goes to the log."""

    def __init__(self) -> None:
        super().__init__("The server had an error while processing your request. Sorry about that!")


class DatabaseUnavailableError(OverloadedError):
    """The database could not be reached (down, restarting, or the connection was cut). A
    transaction it cut short was rolled back; `Retry-After` says when to try again."""

    def __init__(self, retry_after_s: int = 1) -> None:
        super().__init__(retry_after_s)
        self.message = "The database is unavailable. Please retry your request shortly."
