"""Several processes on one PostgreSQL database: takeover after kill -9, and 1 vs 2 processes.

Starts the profile fake upstream of bench/stream_bench.py (its own process) and assistantd
processes on a fresh PostgreSQL database (ASSISTANTD_TEST_DATABASE_URL names the server), then:

  (a) takeover: node A executes a long streamed run, node B idles; A is SIGKILLed; the time
      from the kill to the run's terminal status (read on B) is the takeover time (lease TTL
      plus up to one heartbeat). Repeated `--takeovers` times; p50 and max.
  (b) concurrent streaming, `assistantd serve` with 1 process vs `--workers 2` (one port): the
      same number of streams at 50 tokens/s each, started over 1 s, every text sequence-checked;
      p99 TTFT over the direct baseline, and then streams at an instant upstream (what the
      server can push): deltas per second, 2 processes over 1.
  (c) capacity (`--capacity 25,50,100,...`): for 1 process and for `--workers 2`, the levels of
      concurrent streams at 50 tokens/s are tried in turn until one misses p99 TTFT ratio
      <= 1.2 over direct or loses a delta; the last level held is that setup's capacity, and
      2 processes over 1 is their ratio. The load generator's own CPU is printed beside it.

Bounded loops; prints figures; never asserts on time. The machine is shared (load printed).

    source .ci-services.env
    PYTHONPATH=src:. .venv/bin/python bench/scale_bench.py [--takeovers 5] [--streams 150]
        [--capacity 25,50,100,150,200,300]   (--takeovers 0 --streams 0: only (c))
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import tempfile
import time
import warnings
from contextlib import ExitStack
from typing import Any

import httpx
import openai
import orjson

from bench.stream_bench import fake_process, percentile, words
from tests.support.process import spawn_server
from tests.support.server import fresh_postgres_database

KEY = "sk-bench"
TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}


def takeover_once(env: dict[str, str], url_b: str) -> float:
    with spawn_server(env, quiet=True) as (url_a, process_a):
        client_a = openai.OpenAI(base_url=f"{url_a}/v1", api_key=KEY, max_retries=0)
        client_b = openai.OpenAI(base_url=f"{url_b}/v1", api_key=KEY, max_retries=0)
        assistant = client_a.beta.assistants.create(model="bench-0-100-600")  # 60 s of text
        thread = client_a.beta.threads.create(messages=[{"role": "user", "content": "go"}])
        run = client_a.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        deadline = time.monotonic() + 20
        while not list(client_a.beta.threads.messages.list(thread.id, run_id=run.id)):
            if time.monotonic() > deadline:
                raise RuntimeError("the run did not start")
            time.sleep(0.05)
        time.sleep(1.0)
        process_a.send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        process_a.wait()
        while True:
            status = client_b.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status
            if status in TERMINAL:
                return time.perf_counter() - killed
            if time.perf_counter() - killed > 120:
                raise RuntimeError("no takeover within 120 s")
            time.sleep(0.05)


async def streams(
    api: str, assistant_id: str, n: int, tokens: int
) -> tuple[list[float], int, float]:
    """`n` streamed runs started over 1 s: (TTFTs of the complete ones, complete, wall s)."""
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    expected = words(tokens)
    async with httpx.AsyncClient(limits=limits, timeout=180) as http:

        async def one(delay: float) -> tuple[float, bool]:
            await asyncio.sleep(delay)
            start = time.perf_counter()
            first = 0.0
            got: list[str] = []
            body = {
                "assistant_id": assistant_id,
                "thread": {"messages": [{"role": "user", "content": "go"}]},
                "stream": True,
            }
            headers = {"Authorization": f"Bearer {KEY}"}
            try:
                async with http.stream(
                    "POST", f"{api}/threads/runs", json=body, headers=headers
                ) as r:
                    delta = False
                    async for line in r.aiter_lines():
                        if line.startswith("event:"):
                            delta = line == "event: thread.message.delta"
                        elif delta and line.startswith("data:"):
                            first = first or time.perf_counter() - start
                            data = orjson.loads(line[5:])
                            got.append(data["delta"]["content"][0]["text"]["value"])
            except Exception:
                return 0.0, False
            return first, got == expected

        started = time.perf_counter()
        results = await asyncio.gather(*(one(i / n) for i in range(n)))
        wall = time.perf_counter() - started
    ttfts = [r[0] for r in results if r[1]]
    return ttfts, len(ttfts), wall


def direct_ttft(upstream: str, model: str) -> float:
    client = openai.OpenAI(base_url=upstream, api_key=KEY, max_retries=0)
    values = []
    for _ in range(5):
        start = time.perf_counter()
        for chunk in client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "go"}], stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                values.append(time.perf_counter() - start)
                break
    return statistics.median(values)


def scale(env: dict[str, str], workers: int, n: int, baseline: float) -> dict[str, Any]:
    with spawn_server(env, quiet=True, args=("--workers", str(workers))) as (url, _):
        api = f"{url}/v1"
        client = openai.OpenAI(base_url=api, api_key=KEY, max_retries=0)
        paced = client.beta.assistants.create(model="bench-300-20-150").id
        instant = client.beta.assistants.create(model="bench-0-0-300").id
        asyncio.run(streams(api, instant, 10, 300))  # warm-up (every worker)
        ttfts, ok, _ = asyncio.run(streams(api, paced, n, 150))
        p99 = percentile(ttfts, 0.99) if ttfts else float("nan")
        best_rate = 0.0
        for _ in range(3):
            _, ok_i, wall = asyncio.run(streams(api, instant, n, 300))
            best_rate = max(best_rate, ok_i * 300 / wall)
    result = {"ok": ok, "p99_ratio": p99 / baseline, "deltas_per_s": best_rate}
    print(
        f"  {workers} process(es), {n} streams at 50 tokens/s: {ok}/{n} complete and in order,"
        f" TTFT p99 {p99 * 1000:.0f} ms (ratio {p99 / baseline:.2f} over direct);"
        f" instant upstream: {best_rate:.0f} deltas/s; load {os.getloadavg()[0]:.2f}"
    )
    return result


def capacity(env: dict[str, str], workers: int, levels: list[int], baseline: float) -> int:
    """The largest of `levels` (tried in order) held at p99 TTFT ratio <= 1.2, nothing lost."""
    held = 0
    with spawn_server(env, quiet=True, args=("--workers", str(workers))) as (url, _):
        api = f"{url}/v1"
        client = openai.OpenAI(base_url=api, api_key=KEY, max_retries=0)
        paced = client.beta.assistants.create(model="bench-300-20-150").id
        asyncio.run(streams(api, paced, 10, 150))  # warm-up (every worker)
        for n in levels:
            cpu = time.process_time()
            ttfts, ok, _ = asyncio.run(streams(api, paced, n, 150))
            cpu = time.process_time() - cpu
            ratio = percentile(ttfts, 0.99) / baseline if ttfts else float("inf")
            print(
                f"  {workers} process(es), {n} streams: {ok}/{n} complete and in order,"
                f" p99 TTFT ratio {ratio:.2f}; load generator CPU {cpu:.1f} s;"
                f" load {os.getloadavg()[0]:.2f}"
            )
            if ok < n or ratio > 1.2:
                break
            held = n
    return held


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--takeovers", type=int, default=5)
    parser.add_argument("--streams", type=int, default=150)
    parser.add_argument("--capacity", default="", help="levels for (c), e.g. 25,50,100,200")
    args = parser.parse_args()
    base = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
    if not base:
        raise SystemExit("needs ASSISTANTD_TEST_DATABASE_URL (source .ci-services.env)")
    print(f"load average at start: {os.getloadavg()[0]:.2f}, cpus {os.cpu_count()}")
    with ExitStack() as stack:
        data = stack.enter_context(tempfile.TemporaryDirectory())
        upstream = stack.enter_context(fake_process())
        database = stack.enter_context(fresh_postgres_database(base))
        env = {
            "ASSISTANTD_DATA_DIR": data,
            "ASSISTANTD_DATABASE_URL": database,
            "ASSISTANTD_API_KEYS": KEY,
            "ASSISTANTD_UPSTREAM_BASE_URL": upstream,
            "ASSISTANTD_METRICS": "off",
        }
        if args.takeovers:
            print("(a) takeover after kill -9 of the executing node (lease: 10 s TTL, 1 s beat)")
            with spawn_server(env, quiet=True) as (url_b, _):
                times = [takeover_once(env, url_b) for _ in range(args.takeovers)]
            print(
                f"  {len(times)} takeovers: p50 {statistics.median(times):.1f} s,"
                f" max {max(times):.1f} s ({', '.join(f'{t:.1f}' for t in times)})"
            )
        baseline = direct_ttft(upstream, "bench-300-20-150")
        if args.streams:
            print(f"(b) {args.streams} concurrent streaming runs, 1 process vs --workers 2")
            one = scale(env, 1, args.streams, baseline)
            two = scale(env, 2, args.streams, baseline)
            print(
                f"  2 processes / 1: {two['deltas_per_s'] / one['deltas_per_s']:.2f}x deltas/s"
                f" at an instant upstream; p99 TTFT ratio {one['p99_ratio']:.2f} ->"
                f" {two['p99_ratio']:.2f}"
            )
        if args.capacity:
            levels = [int(level) for level in args.capacity.split(",")]
            print(f"(c) capacity at p99 TTFT ratio <= 1.2, 0 lost (levels {levels})")
            held_one = capacity(env, 1, levels, baseline)
            held_two = capacity(env, 2, levels, baseline)
            ratio = f"{held_two / held_one:.2f}x" if held_one else "n/a (1 process held none)"
            print(f"  capacity: 1 process {held_one}, 2 processes {held_two}: {ratio}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
