"""A fake OpenAI-compatible chat-completions server for tests and benchmarks (ours, from scratch).

It is a real HTTP server (uvicorn on a free port, in a background thread), so the code under
test goes through httpx, sockets and SSE exactly as with a real upstream:

    with FakeUpstream() as fake:
        fake.script(Turn(text="Hello there", ttft_s=0.3, itl_s=0.02),
                    Turn(tool_calls=[Call("get_weather", '{"city": "Paris"}')]),
                    Fail(429, retry_after="1"))
        ... point the client at fake.base_url ...
        assert fake.requests[0]["tools"] == [...]

Scripted turns are consumed in order, one per request (a callable gets the request body and
returns a turn); with the script empty it answers `DEFAULT_TEXT`. Every request body is
recorded. Faults: HTTP errors with headers, a malformed JSON chunk, a stream cut without
`[DONE]`, a stall after N chunks.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

DEFAULT_TEXT = "Hello from the fake upstream."
EMBEDDING_DIMENSIONS = 8


def fake_embedding(text: str, size: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """The fake's vector for `text`: the first `size` bytes of its SHA-512, scaled to [-1, 1)."""
    digest = hashlib.sha512(text.encode()).digest()
    return [(digest[i % len(digest)] - 128) / 128 for i in range(size)]


@dataclass
class Call:
    """A tool call the fake model makes; `arguments` is streamed in `chunks` pieces."""

    name: str
    arguments: str = "{}"
    id: str | None = None
    chunks: int = 3


@dataclass
class Turn:
    """One streamed answer: text and/or tool calls, with timing and optional faults."""

    text: str = ""
    tokens: list[str] | None = None  # explicit chunking of `text` (default: word by word)
    tool_calls: list[Call] = field(default_factory=list)
    interleave: bool = False  # parallel calls: interleave their argument chunks
    ttft_s: float = 0.0
    itl_s: float = 0.0
    finish_reason: str | None = None  # default: "tool_calls" with calls, else "stop"
    usage: dict[str, int] | bool = True  # True: computed; False: omitted; dict: sent as is
    cut_after: int | None = None  # close the stream after N content chunks (no finish, no DONE)
    malformed_after: int | None = None  # then send a broken JSON chunk
    stall_after: int | None = None  # then go silent for `stall_s`
    stall_s: float = 3600.0
    send_done: bool = True

    def pieces(self) -> list[str]:
        if self.tokens is not None:
            return list(self.tokens)
        words = self.text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)] if self.text else []


def logprob_of(token: str, top: int) -> dict[str, Any]:
    """The chat-completions logprob the fake sends for a content chunk when asked
    (`logprobs: true`): one token per chunk, a value made from the token, `top` alternatives
    (the token itself first, as real models do)."""
    value = -round(0.01 * (len(token) + sum(token.encode()) % 7), 4)
    alternatives = [(token, value)] + [(f"{token}~{n}", value - n) for n in range(1, top)]
    return {
        "token": token,
        "logprob": value,
        "bytes": list(token.encode()),
        "top_logprobs": [
            {"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in alternatives[:top]
        ],
    }


@dataclass
class Fail:
    """An HTTP error response (e.g. 429 with retry-after, 500, 404 unknown model)."""

    status: int
    message: str = "fake upstream error"
    retry_after: str | None = None
    retry_after_ms: str | None = None
    body: bytes | None = None

    def response(self) -> Response:
        headers = {}
        if self.retry_after is not None:
            headers["retry-after"] = self.retry_after
        if self.retry_after_ms is not None:
            headers["retry-after-ms"] = self.retry_after_ms
        body = self.body
        if body is None:
            error = {"message": self.message, "type": "error", "param": None, "code": None}
            body = orjson.dumps({"error": error})
        return Response(body, self.status, headers, media_type="application/json")


Scripted = Turn | Fail | Callable[[dict[str, Any]], "Turn | Fail"]


class FakeUpstream:
    def __init__(self, *, model: str = "gpt-4o") -> None:
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.peers: list[int] = []  # the client's port of each chat request (its connection)
        self.aborted = 0  # streams the client hung up on before the end
        self.stalled = 0  # streams gone silent at their `stall_after` (the client holds them)
        self.hold_embeddings = threading.Event()  # set: embeddings requests wait until cleared
        self._script: deque[Scripted] = deque()
        self._stopping = False
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *turns: Scripted) -> None:
        self._script.extend(turns)

    def reset(self) -> None:
        self.hold_embeddings.clear()
        self._script.clear()
        self.aborted = 0
        self.stalled = 0
        self.requests.clear()
        self.headers.clear()
        self.peers.clear()

    def open_connections(self) -> set[int]:
        """The client ports of the connections open to this server now (its side of them)."""
        assert self._server is not None
        while True:
            try:  # the server's thread changes the set meanwhile
                connections = list(self._server.server_state.connections)
            except RuntimeError:
                continue
            return {conn.client[1] for conn in connections if getattr(conn, "client", None)}

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeUpstream:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, name="fake-upstream", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake upstream did not start")
            time.sleep(0.005)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- handlers --------------------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        data = [{"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}]
        return Response(
            orjson.dumps({"object": "list", "data": data}), 200, media_type="application/json"
        )

    async def _embeddings(self, request: Request) -> Response:
        """Deterministic vectors (a hash of each input), as floats or base64 float32s; a
        scripted `Fail` answers instead, a scripted `Turn` is skipped."""
        body = orjson.loads(await request.body())
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        turn = self._next(body)
        if isinstance(turn, Fail):
            return turn.response()
        while self.hold_embeddings.is_set() and not self._stopping:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        size = int(body.get("dimensions") or EMBEDDING_DIMENSIONS)
        data = []
        for index, text in enumerate(inputs):
            vector = fake_embedding(str(text), size)
            encoded: Any = vector
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(len(str(text).split()) for text in inputs)
        answer = {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Response(orjson.dumps(answer), 200, media_type="application/json")

    async def _chat(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.peers.append(request.client.port if request.client else 0)
        turn = self._next(body)
        if isinstance(turn, Fail):
            return turn.response()
        if not body.get("stream"):
            return Response(
                orjson.dumps(self._completion(body, turn)), 200, media_type="application/json"
            )
        return StreamingResponse(self._stream(body, turn), media_type="text/event-stream")

    def _next(self, body: dict[str, Any]) -> Turn | Fail:
        if not self._script:
            return Turn(text=DEFAULT_TEXT)
        item = self._script.popleft()
        return item(body) if callable(item) else item

    # --- wire format -----------------------------------------------------------------------------

    def _chunk(
        self, body: dict[str, Any], delta: dict[str, Any], finish: str | None = None
    ) -> bytes:
        logprobs = None
        if body.get("logprobs") and delta.get("content"):
            logprobs = {"content": [logprob_of(delta["content"], body.get("top_logprobs") or 0)]}
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return self._frame(body, {"choices": [choice]})

    def _frame(self, body: dict[str, Any], extra: dict[str, Any]) -> bytes:
        chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            **extra,
        }
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def _deltas(self, turn: Turn) -> list[dict[str, Any]]:
        """The content/tool-call deltas of a turn, in the order they are sent."""
        deltas: list[dict[str, Any]] = [{"content": piece} for piece in turn.pieces()]
        per_call: list[list[dict[str, Any]]] = []
        for index, call in enumerate(turn.tool_calls):
            head = {
                "index": index,
                "id": call.id or f"call_fake{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            parts = [
                {"index": index, "function": {"arguments": a}}
                for a in _split(call.arguments, call.chunks)
            ]
            per_call.append([head, *parts])
        ordered = _interleave(per_call) if turn.interleave else [d for c in per_call for d in c]
        deltas.extend({"tool_calls": [d]} for d in ordered)
        return deltas

    async def _stream(self, body: dict[str, Any], turn: Turn) -> AsyncIterator[bytes]:
        try:
            async for frame in self._frames(body, turn):
                yield frame
        except (asyncio.CancelledError, GeneratorExit, OSError):
            self.aborted += 1
            raise

    async def _frames(self, body: dict[str, Any], turn: Turn) -> AsyncIterator[bytes]:
        await self._sleep(turn.ttft_s)
        yield self._chunk(body, {"role": "assistant", "content": ""})
        deltas = self._deltas(turn)
        for sent, delta in enumerate(deltas):
            if sent == turn.cut_after:
                return
            if sent == turn.malformed_after:
                yield b'data: {"id": "chatcmpl-fake", "choices": [{"delta": {"content": "x\n\n'
                return
            if sent == turn.stall_after:
                self.stalled += 1
                await self._sleep(turn.stall_s)
                return
            if sent:
                await self._sleep(turn.itl_s)
            yield self._chunk(body, delta)
        finish = turn.finish_reason or ("tool_calls" if turn.tool_calls else "stop")
        yield self._chunk(body, {}, finish)
        usage = self._usage(body, turn, len(deltas))
        if usage is not None and (body.get("stream_options") or {}).get("include_usage"):
            yield self._frame(body, {"choices": [], "usage": usage})
        if turn.send_done:
            yield b"data: [DONE]\n\n"

    def _usage(self, body: dict[str, Any], turn: Turn, completion: int) -> dict[str, int] | None:
        if turn.usage is False:
            return None
        if isinstance(turn.usage, dict):
            return turn.usage
        prompt = len(orjson.dumps(body.get("messages", []))) // 4
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _completion(self, body: dict[str, Any], turn: Turn) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(turn.pieces()) or None,
            "refusal": None,
        }
        if turn.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id or f"call_fake{i}",
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for i, c in enumerate(turn.tool_calls)
            ]
        finish = turn.finish_reason or ("tool_calls" if turn.tool_calls else "stop")
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ],
            "usage": self._usage(body, turn, len(turn.pieces())),
        }

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up early when the server is stopping (stalls must not block stop)."""
        deadline = time.monotonic() + seconds
        while not self._stopping and (left := deadline - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(left, 0.05))


def _split(text: str, parts: int) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // max(parts, 1)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _interleave(groups: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for position in range(max((len(g) for g in groups), default=0)):
        out.extend(g[position] for g in groups if position < len(g))
    return out
