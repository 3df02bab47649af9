"""Logging: request ids on every line, and JSON lines when `ASSISTANTD_LOG_FORMAT=json`.

The HTTP middleware puts the request id (and the client's `X-Client-Request-Id`, if sent) in
context variables. Tasks started while handling a request (a run, an ingestion) copy the
context, so their lines carry the id of the request that started them.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from typing import Any

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
client_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_request_id", default=None
)

# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    """Adds `request_id` and `client_request_id` to each record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.client_request_id = client_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        client = getattr(record, "client_request_id", None)
        if client:
            line["client_request_id"] = client
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line and key != "client_request_id":
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


TEXT_FORMAT = "%(levelname)s %(name)s [%(request_id)s]: %(message)s"


def configure_logging(log_format: str, level: int | str = logging.INFO) -> None:
    """Set up the root logger: one stderr handler, request ids added, text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
