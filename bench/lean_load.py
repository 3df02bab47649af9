"""A lean load generator and a lean fake model for the capacity benches: so they measure the
server, not themselves.

The openai SDK (or httpx with a line iterator) costs the client ~0.1 ms of CPU per delta, and
the test fake (uvicorn + Starlette, a dict encoded per chunk) about as much per chunk: at 50
streams of 50 tokens/s on 2 cores, both were a large part of the machine beside the server.

- `LeanFake` answers `POST /v1/chat/completions` (stream) like `bench.stream_bench`'s profile
  fake (model `bench-<ttft ms>-<itl ms>-<tokens>`; the same chunks in the same order, the same
  timing: the role chunk and the first token after the TTFT, then one token per interval, the
  finish chunk, the usage chunk when asked, `[DONE]`), each chunk encoded once per profile
  and written as is (HTTP/1.1 chunked, keep-alive), on uvloop with httptools' parser.
- `stream_many` (in worker processes: `Clients`) opens its connections before the level starts,
  sends each stream's request at its start time, parses the chunked body with httptools and
  the SSE events with `bytes.find`, decodes every delta's JSON and checks the texts in
  sequence against the expected ones. TTFT is from the request's write to the first delta
  event. Each worker reports its own CPU.

    python bench/lean_load.py --fake   (prints its port; serves until stdin closes)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, cast

import httptools
import orjson
import uvloop


def words(n: int) -> list[str]:
    return [f"t{i}" if i == 0 else f" t{i}" for i in range(n)]


# --- the fake model ------------------------------------------------------------------------------


def _chunked(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _frame(model: str, extra: dict[str, Any], created: int) -> bytes:
    chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created}
    return _chunked(b"data: " + orjson.dumps({**chunk, "model": model, **extra}) + b"\n\n")


def _choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}


@dataclass
class Profile:
    ttft_s: float
    itl_s: float
    first: bytes  # the role chunk and the first token, written together
    tokens: list[bytes]  # the rest, one per interval
    finish: bytes  # the finish chunk
    count: int

    @staticmethod
    def of(model: str) -> Profile:
        _, ttft, itl, n = model.split("-")
        created = int(time.time())
        pieces = [_frame(model, _choice({"content": t}), created) for t in words(int(n))]
        role = _frame(model, _choice({"role": "assistant", "content": ""}), created)
        return Profile(
            ttft_s=int(ttft) / 1000,
            itl_s=int(itl) / 1000,
            first=role + (pieces[0] if pieces else b""),
            tokens=pieces[1:],
            finish=_frame(model, _choice({}, "stop"), created),
            count=len(pieces),
        )


HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
DONE = _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n"


class _FakeConnection(asyncio.Protocol):
    def __init__(self, fake: LeanFake) -> None:
        self.fake = fake
        self.parser = httptools.HttpRequestParser(self)
        self.body: list[bytes] = []
        self.url = b""
        self.transport: asyncio.Transport | None = None
        self.queue: asyncio.Queue[tuple[bytes, bytes, bytes]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.task = asyncio.get_running_loop().create_task(self._serve())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.task is not None:
            self.task.cancel()

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        self.queue.put_nowait((method, self.url, b"".join(self.body)))
        self.url, self.body = b"", []

    async def _serve(self) -> None:  # requests on one connection are answered in turn
        while True:
            method, url, body = await self.queue.get()
            assert self.transport is not None
            if method == b"POST" and url.endswith(b"/chat/completions"):
                await self.fake.chat(self.transport, orjson.loads(body))
            elif url.endswith(b"/models"):
                data = b'{"object":"list","data":[]}'
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(data), data)
                )
            else:
                self.transport.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")


class LeanFake:
    def __init__(self) -> None:
        self.profiles: dict[str, Profile] = {}

    async def chat(self, transport: asyncio.Transport, body: dict[str, Any]) -> None:
        model = str(body["model"])
        profile = self.profiles.get(model)
        if profile is None:
            profile = self.profiles[model] = Profile.of(model)
        transport.write(HEAD)
        await asyncio.sleep(profile.ttft_s)
        transport.write(profile.first)
        for token in profile.tokens:
            await asyncio.sleep(profile.itl_s)
            if transport.is_closing():
                return
            transport.write(token)
        tail = profile.finish
        if (body.get("stream_options") or {}).get("include_usage"):
            prompt = len(orjson.dumps(body.get("messages", []))) // 4
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": profile.count,
                "total_tokens": prompt + profile.count,
            }
            tail += _frame(model, {"choices": [], "usage": usage}, int(time.time()))
        transport.write(tail + DONE)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _FakeConnection(self), "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin


def lean_fake_process() -> AbstractContextManager[tuple[str, int]]:
    """The lean fake in a process of its own: (base url, pid)."""
    return fake_script_process(__file__)


@contextmanager
def fake_script_process(script: str) -> Iterator[tuple[str, int]]:
    """`script --fake` in a process of its own, which prints its port and serves until its
    stdin closes: (base url, pid). Shared with stream_bench's fake."""
    process = subprocess.Popen(
        [sys.executable, script, "--fake"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1", process.pid
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# --- the load generator --------------------------------------------------------------------------


def run_delta(event: bytes) -> str | None:
    """The text of a run stream's `thread.message.delta` event, else None."""
    if b"event: thread.message.delta\n" not in event:  # after its `id:` line
        return None
    data = orjson.loads(event[event.index(b"data: ") + 6 :])
    return str(data["delta"]["content"][0]["text"]["value"])


def chat_delta(event: bytes) -> str | None:
    """The text of a chat-completions chunk with content, else None."""
    if not event.startswith(b"data: {"):
        return None
    choices = orjson.loads(event[6:])["choices"]
    return str(choices[0]["delta"].get("content") or "") or None if choices else None


PARSERS: dict[str, Callable[[bytes], str | None]] = {"run": run_delta, "chat": chat_delta}


class _Stream(asyncio.Protocol):
    """One HTTP/1.1 request whose response is an SSE stream: the texts in order, and when the
    first one came."""

    def __init__(self, parse: Callable[[bytes], str | None]) -> None:
        self.parse = parse
        self.parser = httptools.HttpResponseParser(self)
        self.buffer = b""
        self.sep = b""
        self.texts: list[str] = []
        self.first = 0.0
        self.status = 0
        self.done = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(False)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if not self.done.done():
                self.done.set_result(False)

    def on_status(self, status: bytes) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        buffer = self.buffer + body
        if not self.sep:
            self.sep = b"\r\n\r\n" if b"\r\n" in buffer else b"\n\n"
        sep, start = self.sep, 0
        while (end := buffer.find(sep, start)) >= 0:
            text = self.parse(buffer[start:end].replace(b"\r\n", b"\n"))
            if text is not None:
                if not self.first:
                    self.first = time.perf_counter()
                self.texts.append(text)
            start = end + len(sep)
        self.buffer = buffer[start:]

    def on_message_complete(self) -> None:
        if not self.done.done():
            self.done.set_result(self.status == 200)


async def _one(
    host: str, port: int, request: bytes, kind: str, expected: list[str], at: float
) -> tuple[float, bool]:
    loop = asyncio.get_running_loop()
    try:
        transport, stream = await loop.create_connection(lambda: _Stream(PARSERS[kind]), host, port)
    except OSError:
        return 0.0, False
    try:
        await asyncio.sleep(at - time.monotonic())
        start = time.perf_counter()
        transport.write(request)
        try:
            ok = await asyncio.wait_for(stream.done, 180)
        except TimeoutError:
            ok = False
        first = stream.first - start if stream.first else 0.0
        return first, ok and stream.texts == expected
    finally:
        transport.close()


def request_bytes(host: str, port: int, path: str, body: dict[str, Any], key: str) -> bytes:
    payload = orjson.dumps(body)
    return (
        f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\nauthorization: Bearer {key}\r\n"
        f"content-type: application/json\r\naccept: text/event-stream\r\n"
        f"content-length: {len(payload)}\r\n\r\n"
    ).encode() + payload


def stream_many(
    host: str,
    port: int,
    request: bytes,
    kind: str,
    expected: list[str],
    starts: Sequence[float],
) -> tuple[list[tuple[float, bool]], float]:
    """Streams sent at the `time.monotonic()` instants `starts` (one connection each, opened
    beforehand): each one's (TTFT, complete and in order), and this process's CPU seconds."""

    async def main() -> list[tuple[float, bool]]:
        return list(
            await asyncio.gather(*(_one(host, port, request, kind, expected, at) for at in starts))
        )

    cpu = time.process_time()
    results = uvloop.run(main())
    return results, time.process_time() - cpu


def _warm(_: int) -> int:
    return os.getpid()


class Clients:
    """`workers` load-generator processes, kept across levels (their start is not measured)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = ProcessPoolExecutor(workers)
        self.pids = set(self.pool.map(_warm, range(workers * 4)))

    def close(self) -> None:
        self.pool.shutdown()

    def run(
        self,
        url: str,
        path: str,
        body: dict[str, Any],
        key: str,
        kind: str,
        expected: list[str],
        n: int,
        over_s: float = 1.0,
    ) -> tuple[list[tuple[float, bool]], float]:
        """`n` streams started evenly over `over_s` seconds, dealt round-robin to the workers:
        (TTFT, ok) of each, and the workers' CPU seconds together."""
        host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
        request = request_bytes(host, int(port), path, body, key)
        t0 = time.monotonic() + 0.3 + n / 500  # time for every worker to open its connections
        starts = [t0 + over_s * i / n for i in range(n)]
        futures = [
            self.pool.submit(
                stream_many, host, int(port), request, kind, expected, starts[w :: self.workers]
            )
            for w in range(min(self.workers, n))
        ]
        results: list[tuple[float, bool]] = []
        cpu = 0.0
        for future in futures:
            part, seconds = future.result()
            results.extend(part)
            cpu += seconds
        return results, cpu


if __name__ == "__main__" and sys.argv[1:] == ["--fake"]:
    uvloop.run(LeanFake().serve())
