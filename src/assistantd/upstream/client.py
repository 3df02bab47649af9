"""`UpstreamClient`: streams chat completions from any OpenAI-compatible endpoint.

One shared `httpx.AsyncClient` per process (connection pooling). Every call retries as
`retry` says (connect errors, 408, 429 and 5xx; the server's Retry-After, else exponential
backoff with jitter), and `stream_chat` only until the first chunk arrived: after that, text
has reached the client and a retry would duplicate it, so a failure raises. Every failure is
an `UpstreamError`; cancelling the consuming task closes the response, which aborts the HTTP
request.

Timeouts: `connect` from settings; `read` is the idle timeout (no bytes for that long fails the
call). A run's overall deadline is the executor's business (`expires_at`), not this client's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, cast

import httpx
import orjson
from tenacity import AsyncRetrying

from assistantd.observability.metrics import Metrics, upstream_error_kind
from assistantd.settings import Settings
from assistantd.upstream.errors import UpstreamError, from_status
from assistantd.upstream.retry import BACKOFF_BASE_S, retrying
from assistantd.upstream.sse import SSEDecoder
from assistantd.upstream.types import ChatChunk

MODELS_TIMEOUT_S = 5.0
DRAIN_S = 1.0


class UpstreamClient:
    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        idle_timeout_s: float | None = None,
        backoff_base_s: float = BACKOFF_BASE_S,
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._base_url = settings.upstream.base_url.rstrip("/")
        self._backoff_base_s = backoff_base_s
        self._max_retries = settings.upstream.max_retries
        headers = {"content-type": "application/json"}
        if settings.upstream.api_key:
            headers["authorization"] = f"Bearer {settings.upstream.api_key}"
        # httpx's read timeout bounds the gap between two reads: exactly an idle timeout.
        timeout = httpx.Timeout(
            idle_timeout_s if idle_timeout_s is not None else settings.upstream.timeout_s,
            connect=settings.upstream.connect_timeout_s,
            pool=None,
        )
        self._http = httpx.AsyncClient(
            transport=transport,
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def stream_chat(
        self, body: dict[str, Any], sent: Callable[[], None] | None = None
    ) -> AsyncGenerator[ChatChunk, None]:
        """POST `/chat/completions` with streaming on; yield decoded chunks until `[DONE]`.
        `sent()` is called when the model server has taken the request (its success status
        in, the answer to come: the time for the caller's own writes), at each attempt.

        Consume it inside `contextlib.aclosing(...)` so that leaving early closes the response.
        """
        payload = orjson.dumps({**body, "stream": True, "stream_options": {"include_usage": True}})
        received = False  # once a chunk went out, nothing is retried
        # The lambda reads the flag when a failure is judged, not when it is made.
        async for attempt in self._retrying(lambda: not received, count=True):  # noqa: B023
            with attempt:
                response = await self._send(payload)
                if sent is not None:
                    sent()
                try:
                    # closed here, not by the garbage collector (maybe after the loop's end)
                    async with contextlib.aclosing(_chunks(response)) as chunks:
                        async for chunk in chunks:
                            received = True
                            yield chunk
                finally:
                    await _close(response)

    async def relay(self, path: str, payload: bytes) -> httpx.Response:
        """POST `payload` as is to `path` (e.g. `/embeddings`); the open response, once its status
        is a success. Retries like `stream_chat`; an error status raises `UpstreamError` carrying
        the upstream's status and body. The caller reads or streams the body, then closes it."""
        async for attempt in self._retrying():
            with attempt:
                return await self._send(payload, path)
        raise AssertionError("unreachable: the last failure is re-raised")

    async def list_models(self) -> list[Any]:
        """The upstream's `GET /models` list (`data`); UpstreamError if it has none."""
        try:
            response = await self._http.get(self._base_url + "/models", timeout=MODELS_TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise UpstreamError(
                "server_error", f"Could not reach the model server: {exc!r}"
            ) from exc
        if response.status_code >= 400:
            raise from_status(response.status_code, response.content, response.headers)
        data = _json_body(response.content).get("data")
        if not isinstance(data, list):
            raise UpstreamError("server_error", "The model server sent no model list.")
        return data

    async def _send(self, payload: bytes, path: str = "/chat/completions") -> httpx.Response:
        request = self._http.build_request("POST", self._base_url + path, content=payload)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamError(
                "server_error",
                f"The model server timed out ({type(exc).__name__}).",
                retryable=True,
            ) from exc
        except httpx.TransportError as exc:
            raise UpstreamError(
                "server_error", f"Could not reach the model server: {exc!r}", retryable=True
            ) from exc
        if response.status_code >= 400:
            try:
                body = await _read_all(response)
            finally:
                await response.aclose()
            raise from_status(response.status_code, body, response.headers)
        return response

    def _retrying(
        self, allowed: Callable[[], bool] = lambda: True, *, count: bool = False
    ) -> AsyncRetrying:
        """The retry policy for one call: `UpstreamError`s marked retryable, while `allowed()`;
        with `count`, every failure goes to the metrics."""
        return retrying(
            retries=self._max_retries,
            base_s=self._backoff_base_s,
            retryable=lambda e: isinstance(e, UpstreamError) and e.retryable and allowed(),
            hint=lambda e: e.retry_after_s if isinstance(e, UpstreamError) else None,
            on_failure=self._count if count else None,
        )

    def _count(self, error: BaseException, retry: bool) -> None:
        if self._metrics is not None and isinstance(error, UpstreamError):
            kind = upstream_error_kind(error.status, error.retryable)
            self._metrics.upstream_errors.labels(kind).inc()
            if retry:
                self._metrics.upstream_retries.labels(kind).inc()


async def _read_all(response: httpx.Response) -> bytes:
    try:
        return await response.aread()
    except httpx.HTTPError as exc:
        raise UpstreamError(
            "server_error", f"The model server's response broke off: {exc!r}", retryable=True
        ) from exc


async def _chunks(response: httpx.Response) -> AsyncGenerator[ChatChunk, None]:
    """Decode the SSE body into chunks; raise UpstreamError on garbage or a cut-off stream."""
    decoder = SSEDecoder()
    finished = False  # saw a finish_reason: the answer is whole even without [DONE]
    batches = _payloads(response, decoder)
    async with contextlib.aclosing(batches):
        async for payloads in batches:
            for data in payloads:
                if data.startswith(b"[DONE]"):
                    await _drain(batches)
                    return
                chunk = _decode(data)
                finished = finished or _has_finish_reason(chunk)
                yield chunk
    if not finished:
        raise UpstreamError(
            "server_error", "The model server's stream ended prematurely.", retryable=True
        )


async def _drain(batches: AsyncIterator[list[bytes]]) -> None:
    """Read the body to its end after `[DONE]` (what is left is the end of the chunked body,
    usually received already), so that httpx returns the connection to its pool: a response
    closed before its end closes its connection, and every model call then paid a new TCP (and,
    with a real model server, TLS) connection. A server that does not end the body within
    `DRAIN_S` gets its connection closed, as before."""
    with contextlib.suppress(TimeoutError, UpstreamError):
        async with asyncio.timeout(DRAIN_S):
            async for _ in batches:
                pass


async def _payloads(
    response: httpx.Response, decoder: SSEDecoder
) -> AsyncGenerator[list[bytes], None]:
    """The SSE data payloads, batch by network read; transport failures become UpstreamError."""
    # The stream itself, not `aiter_raw()`, which closes the response at the body's end: the
    # close must not run under `_drain`'s timeout (see `_close`).
    stream = cast(httpx.AsyncByteStream, response.stream)
    try:
        async for piece in stream:
            yield decoder.feed(piece)
    except httpx.TimeoutException as exc:
        raise UpstreamError(
            "server_error", "The model server stopped sending (idle timeout).", retryable=True
        ) from exc
    except httpx.HTTPError as exc:
        raise UpstreamError(
            "server_error", f"The model server's stream broke off: {exc!r}", retryable=True
        ) from exc
    yield decoder.flush()


async def _close(response: httpx.Response) -> None:
    """Close the response (its connection goes back to the pool, or is closed) even if the task
    is cancelled meanwhile: in that call httpx's pool also closes the connections it drops
    (expired, past the keep-alive limit), one await each, and a cancellation (a run cancelled,
    the server stopping, a timeout) cut it short and left those open, out of the pool."""
    closing = asyncio.ensure_future(response.aclose())
    try:
        await asyncio.shield(closing)
    except asyncio.CancelledError:
        await asyncio.shield(closing)  # then the cancellation goes on
        raise


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError("server_error", "The model server sent invalid JSON.") from exc
    if not isinstance(data, dict):
        raise UpstreamError("server_error", "The model server sent an unexpected response.")
    return data


def _decode(data: bytes) -> ChatChunk:
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError("server_error", "The model server sent a malformed chunk.") from exc
    if not isinstance(chunk, dict):
        raise UpstreamError("server_error", "The model server sent a malformed chunk.")
    if "error" in chunk and "choices" not in chunk:  # vLLM & co. report late errors in-band
        error = chunk["error"]
        said = error.get("message") if isinstance(error, dict) else str(error)
        raise UpstreamError("server_error", f"The model server failed mid-stream: {said}")
    return cast(ChatChunk, chunk)  # a dict of the chunk's shape: the accumulator reads it


def _has_finish_reason(chunk: ChatChunk) -> bool:
    return any(choice.get("finish_reason") for choice in chunk.get("choices") or ())
