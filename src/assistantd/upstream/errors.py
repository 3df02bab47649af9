"""`UpstreamError`: every upstream failure, typed by the run `last_error.code` it becomes."""

from __future__ import annotations

from typing import Any, Literal

import orjson

UpstreamErrorCode = Literal["rate_limit_exceeded", "server_error", "invalid_prompt"]


class UpstreamError(Exception):
    """The upstream failed; the run ends `failed` with `last_error = {code, message}`.

    `retryable` is True for failures worth retrying before any chunk was received (connect
    errors, 429, 5xx); `retry_after_s` carries the upstream's `retry-after` hint, if any.
    """

    def __init__(
        self,
        code: UpstreamErrorCode,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.code: UpstreamErrorCode = code
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.body = body  # the upstream's error body, for the endpoints that relay it


MAX_RETRY_AFTER_S = 60.0


def retry_after(headers: Any) -> float | None:
    """The `retry-after-ms` / `retry-after` (seconds) hint, if present and at most 60 s."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue  # an HTTP date: not worth parsing, fall back to our backoff
        if 0 <= value <= MAX_RETRY_AFTER_S:
            return value
    return None


def upstream_message(body: bytes) -> str:
    """The human message inside an upstream error body (OpenAI's envelope, or raw text)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode(errors="replace").strip()[:500]
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if isinstance(data.get("detail"), str):
            return str(data["detail"])
    return body.decode(errors="replace").strip()[:500]


def from_status(status: int, body: bytes, headers: Any) -> UpstreamError:
    """Map an HTTP error response of the upstream to an UpstreamError.

    429 -> rate_limit_exceeded (retryable); 5xx and 408 -> server_error (retryable);
    401/403 -> server_error (our upstream credentials are wrong: the operator's problem, not
    the prompt's); other 4xx (unknown model, context too long, bad parameter) -> invalid_prompt,
    with the upstream's own words in the message.
    """
    said = upstream_message(body) or "no details"
    if status == 429:
        return UpstreamError(
            "rate_limit_exceeded",
            f"The model is rate limited (upstream HTTP 429): {said}",
            status=status,
            retryable=True,
            retry_after_s=retry_after(headers),
            body=body,
        )
    if status >= 500 or status == 408:
        return UpstreamError(
            "server_error",
            f"The model server failed (upstream HTTP {status}): {said}",
            status=status,
            retryable=True,
            retry_after_s=retry_after(headers),
            body=body,
        )
    code: UpstreamErrorCode = "server_error" if status in (401, 403) else "invalid_prompt"
    return UpstreamError(
        code,
        f"The model server rejected the request (HTTP {status}): {said}",
        status=status,
        body=body,
    )
