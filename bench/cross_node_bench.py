"""Added time to first token of a stream served by another node (Redis broker), in one run.

Starts a private `redis-server` on a free port, a fake upstream process (bench/stream_bench.py's
profiles: `bench-<ttft ms>-<itl ms>-<tokens>`), a fresh PostgreSQL database (from
ASSISTANTD_TEST_DATABASE_URL, as the tests do) and three assistantd processes on it:

  A and B with ASSISTANTD_REDIS_URL (one prefix): a run is created and executed on A, its stream
      read on A (the POST's own stream: same node) and, at the same time, on B through
      `GET …/runs/{id}/events` (cross node); each run gives one same-node and one cross-node
      TTFT (from the POST to the first `thread.message.delta` at the client), so the added
      cross-node time is a paired difference;
  C without Redis (the in-process broker), the same runs interleaved with A's: what the Redis
      broker adds on one node.

Also: events per second that one broker publishes through Redis with one reader attached (the
ceiling of one process's event traffic), and the publisher's cost per event. Prints figures;
never asserts on time. The load average is printed: every process shares the machine.

    source .ci-services.env
    PYTHONPATH=src:. .venv/bin/python bench/cross_node_bench.py [--runs 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import threading
import time
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.stream_bench import KEY, fake_process, percentile
from tests.support.process import spawn_server
from tests.support.redis import PrivateRedis
from tests.support.server import fresh_postgres_database

BODY: dict[str, Any] = {"thread": {"messages": [{"role": "user", "content": "go"}]}}


def first_delta(response: httpx.Response, started: float, on_run: Any = None) -> float:
    """Read a stream to its end; the time of its first message delta (since `started`)."""
    first = 0.0
    event = ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
            if event == "thread.message.delta" and not first:
                first = time.perf_counter() - started
        elif line.startswith("data:") and event == "thread.run.created" and on_run is not None:
            on_run(orjson.loads(line[5:]))
            on_run = None
    return first


def paired_run(a: httpx.Client, b: httpx.Client, assistant_id: str) -> tuple[float, float]:
    """One run created on A: (TTFT on A's own stream, TTFT on B's events stream)."""
    cross: list[float] = []
    threads: list[threading.Thread] = []
    started = time.perf_counter()

    def attach(run: dict[str, Any]) -> None:
        path = f"/threads/{run['thread_id']}/runs/{run['id']}/events"

        def read() -> None:
            with b.stream("GET", path) as response:
                cross.append(first_delta(response, started))

        thread = threading.Thread(target=read)
        thread.start()
        threads.append(thread)

    body = {**BODY, "assistant_id": assistant_id, "stream": True}
    with a.stream("POST", "/threads/runs", json=body) as response:
        same = first_delta(response, started, attach)
    for thread in threads:
        thread.join(30)
    return same, cross[0] if cross else float("nan")


def single_run(c: httpx.Client, assistant_id: str) -> float:
    started = time.perf_counter()
    body = {**BODY, "assistant_id": assistant_id, "stream": True}
    with c.stream("POST", "/threads/runs", json=body) as response:
        return first_delta(response, started)


def publish_rate(url: str, n: int = 50_000) -> None:
    """One RedisBroker publishing `n` message deltas while one reader follows."""
    import asyncio

    from assistantd.events.redis_broker import RedisBroker, connect
    from tests.unit.test_events import text_delta

    async def run() -> None:
        broker = RedisBroker(connect(url), prefix="rate:")
        await broker.start()
        broker.open("run_rate")
        sub = broker.subscribe("run_rate")

        async def read() -> int:
            return sum([1 async for _ in sub])

        reader = asyncio.create_task(read())
        started = time.perf_counter()
        for i in range(n):
            broker.publish("run_rate", text_delta(str(i)))
            if i % 500 == 0:
                await asyncio.sleep(0)  # an executor yields between deltas
        publish_s = time.perf_counter() - started
        broker.close("run_rate")
        got = await reader
        total_s = time.perf_counter() - started
        await broker.aclose()
        print(
            f"  one broker, {n} deltas, one reader: {n / total_s:,.0f} events/s end to end;"
            f" publish() {1e6 * publish_s / n:.1f} µs per event; {got - 1} read, lost"
            f" {broker.dropped}"
        )

    asyncio.run(run())


def client(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{url}/v1", headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    )


def assistant(http: httpx.Client, model: str) -> str:
    response = http.post("/assistants", json={"model": model})
    response.raise_for_status()
    return str(response.json()["id"])


def ms(values: list[float], q: float = 0.5) -> str:
    return f"{1000 * percentile(values, q):.2f}"


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--model", default="bench-50-5-20")
    args = parser.parse_args()
    base = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
    if not base:
        raise SystemExit("set ASSISTANTD_TEST_DATABASE_URL (source .ci-services.env)")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        redis = PrivateRedis(workdir)
        redis.start()
        stack.callback(redis.kill)
        database = stack.enter_context(fresh_postgres_database(base))
        upstream = stack.enter_context(fake_process())
        common = {
            "ASSISTANTD_DATABASE_URL": database,
            "ASSISTANTD_API_KEYS": KEY,
            "ASSISTANTD_UPSTREAM_BASE_URL": upstream,
        }
        urls = []
        for name, redis_url in (("a", redis.url), ("b", redis.url), ("c", None)):
            env = {**common, "ASSISTANTD_DATA_DIR": str(workdir / name)}
            if redis_url:
                env |= {"ASSISTANTD_REDIS_URL": redis_url, "ASSISTANTD_REDIS_PREFIX": "bench:"}
            url, _ = stack.enter_context(spawn_server(env, quiet=True, start_s=120))
            urls.append(url)
        a, b, c = (stack.enter_context(client(url)) for url in urls)
        on_a, on_c = assistant(a, args.model), assistant(c, args.model)
        for _ in range(3):  # warm-up
            paired_run(a, b, on_a), single_run(c, on_c)
        same, cross, local = [], [], []
        for _ in range(args.runs):  # interleaved: the machine's drift hits all three alike
            s, x = paired_run(a, b, on_a)
            same.append(s)
            cross.append(x)
            local.append(single_run(c, on_c))
        added = [x - s for s, x in zip(same, cross, strict=True)]
        print(f"{args.runs} runs of {args.model} (TTFT at the client, from the POST)")
        print(f"  in-process broker, one node (C):    p50 {ms(local)} ms  p99 {ms(local, 0.99)}")
        print(f"  Redis broker, same node (A):        p50 {ms(same)} ms  p99 {ms(same, 0.99)}")
        print(f"  Redis broker, cross node (B):       p50 {ms(cross)} ms  p99 {ms(cross, 0.99)}")
        print(
            f"  added cross node vs same node (paired): p50 {ms(added)} ms, p90 {ms(added, 0.9)} ms"
        )
        print(
            f"  Redis same node vs in-process: p50 ratio"
            f" {statistics.median(same) / statistics.median(local):.3f},"
            f" added {1000 * (statistics.median(same) - statistics.median(local)):+.2f} ms"
        )
        info = subprocess.run(
            ["redis-cli", "-p", str(redis.port), "info", "commandstats"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        calls = {
            line.split(":")[0].removeprefix("cmdstat_"): line.split("calls=")[1].split(",")[0]
            for line in info.splitlines()
            if line.startswith("cmdstat_")
        }
        print(f"  Redis commands over the bench: {calls}")
        publish_rate(redis.url)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
