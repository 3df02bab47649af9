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
      concurrent streams at 50 tokens/s are tried in turn (`--trials` times each) until one
      misses p99 TTFT ratio <= 1.2 over direct or loses a delta in most of its trials; the last
      level held is that setup's capacity, and
      2 processes over 1 is their ratio. The load generator's own CPU is printed beside it.

Bounded loops; prints figures; never asserts on time. The machine is shared (load printed).

    source .ci-services.env
    PYTHONPATH=src:. .venv/bin/python bench/scale_bench.py [--takeovers 5] [--streams 150]
        [--capacity 100,125,150,175,200] [--trials 3]   (--takeovers 0 --streams 0: only (c))
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

from bench.lean_load import Clients, lean_fake_process
from bench.stream_bench import CLK_TCK, cpu_seconds, fake_process_pid, percentile, words
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


def tree_cpu(pid: int) -> float:
    """CPU seconds of `pid` and its descendants (a `--workers` server's master and workers)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += cpu_seconds(current)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo.extend(int(child) for child in handle.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def postgres_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `database` (by its process title)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    title = handle.read().split(b"\0")[0].split()
                if title[:1] == [b"postgres:"] and database.encode() in title[1:5]:
                    found[int(entry)] = cpu_seconds(int(entry))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
    return found


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all cores), from /proc/stat."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK  # minus idle and iowait


class Shares:
    """The CPU each party used over a level, as % of one core: server, fake model, load
    generator, the database's PostgreSQL backends, and the rest of the machine (other jobs,
    PostgreSQL's own processes). A backend that exits during the level (a pool's overflow
    connection closed) takes its CPU with it: those are counted, not measured."""

    def __init__(self, server: int, fake: int, database: str) -> None:
        self.server, self.fake, self.database = server, fake, database
        self.wall = time.perf_counter()
        self.backends = postgres_cpu(database)
        self.start = (tree_cpu(server), cpu_seconds(fake), machine_cpu())

    def report(self, client: float, runs: int) -> str:
        wall = time.perf_counter() - self.wall
        backends = postgres_cpu(self.database)
        now = (tree_cpu(self.server), cpu_seconds(self.fake), machine_cpu())
        server, fake, machine = (b - a for a, b in zip(self.start, now, strict=True))
        postgres = sum(v - self.backends.get(pid, 0.0) for pid, v in backends.items())
        gone = len(set(self.backends) - set(backends))
        opened = len(set(backends) - set(self.backends))
        other = machine - server - fake - postgres - client
        share = {"server": server, "fake": fake, "client": client, "postgres": postgres}
        parts = ", ".join(f"{k} {100 * v / wall:.0f}%" for k, v in share.items())
        return (
            f"CPU over {wall:.1f} s (% of one core): {parts}, rest {100 * other / wall:.0f}%"
            f" (machine {100 * machine / wall:.0f}% of {100 * (os.cpu_count() or 1)}%);"
            f" server {1000 * server / runs:.1f} ms per run; backends opened {opened},"
            f" closed {gone}"
        )


def lean_direct_ttft(clients: Clients, upstream: str, model: str) -> float:
    """The fake's own TTFT through the lean client (median of 5, one at a time)."""
    body = {"model": model, "messages": [{"role": "user", "content": "go"}], "stream": True}
    values = []
    for _ in range(5):
        (result,), _ = clients.run(upstream, "/v1/chat/completions", body, KEY, "chat", [], 1)
        values.append(result[0])
    return statistics.median(values)


def capacity(
    env: dict[str, str],
    workers: int,
    levels: list[int],
    baseline: float,
    fake_pid: int,
    clients: Clients | None,
    trials: int,
) -> int:
    """The largest of `levels` (tried in order) held at p99 TTFT ratio <= 1.2, nothing lost, in
    most of `trials` tries; with `clients` the lean load generator, else httpx in this process."""
    held = 0
    with spawn_server(env, quiet=True, args=("--workers", str(workers))) as (url, process):
        api = f"{url}/v1"
        client = openai.OpenAI(base_url=api, api_key=KEY, max_retries=0)
        paced = client.beta.assistants.create(model="bench-300-20-150").id
        body = {
            "assistant_id": paced,
            "thread": {"messages": [{"role": "user", "content": "go"}]},
            "stream": True,
        }
        expected = words(150)
        database = env["ASSISTANTD_DATABASE_URL"].rsplit("/", 1)[1]

        def level(n: int) -> tuple[list[float], int, float]:
            if clients is None:
                cpu = time.process_time()
                ttfts, ok, _ = asyncio.run(streams(api, paced, n, 150))
                return ttfts, ok, time.process_time() - cpu
            results, cpu = clients.run(api, "/v1/threads/runs", body, KEY, "run", expected, n)
            ttfts = [ttft for ttft, ok in results if ok]
            return ttfts, len(ttfts), cpu

        level(10)  # warm-up (every worker)
        for n in levels:
            # One trial of a level is noisy on a shared 2-core machine (the client, the fake and
            # PostgreSQL share it): a level is held when most of its `trials` hold.
            passed = 0
            for trial in range(trials):
                shares = Shares(process.pid, fake_pid, database)
                ttfts, ok, cpu = level(n)
                ratio = percentile(ttfts, 0.99) / baseline if ttfts else float("inf")
                good = ok == n and ratio <= 1.2
                passed += good
                print(
                    f"  {workers} process(es), {n} streams, trial {trial + 1}: {ok}/{n} complete"
                    f" and in order, p99 TTFT ratio {ratio:.2f}"
                    f" (p50 {statistics.median(ttfts) / baseline if ttfts else 0:.2f})"
                    f" {'held' if good else 'missed'}; load {os.getloadavg()[0]:.2f}"
                    f"\n    {shares.report(cpu, n)}"
                )
            if 2 * passed <= trials:
                break
            held = n
    return held


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--takeovers", type=int, default=5)
    parser.add_argument("--streams", type=int, default=150)
    parser.add_argument("--capacity", default="", help="levels for (c), e.g. 25,50,100,200")
    parser.add_argument(
        "--client",
        choices=("lean", "httpx"),
        default="lean",
        help="(c)'s load generator: lean (bench/lean_load.py, in --client-processes) or httpx",
    )
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--trials", type=int, default=3, help="(c)'s tries of each level")
    parser.add_argument("--processes", default="1,2", help="(c)'s setups: 1 and/or 2 (--workers)")
    parser.add_argument(
        "--fake",
        choices=("lean", "profile"),
        default="lean",
        help="the fake model: lean (pre-encoded chunks) or profile (the test fake, uvicorn)",
    )
    args = parser.parse_args()
    base = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
    if not base:
        raise SystemExit("needs ASSISTANTD_TEST_DATABASE_URL (source .ci-services.env)")
    print(f"load average at start: {os.getloadavg()[0]:.2f}, cpus {os.cpu_count()}")
    with ExitStack() as stack:
        data = stack.enter_context(tempfile.TemporaryDirectory())
        fake = lean_fake_process() if args.fake == "lean" else fake_process_pid()
        upstream, fake_pid = stack.enter_context(fake)
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
            clients = None
            if args.client == "lean":
                clients = Clients(args.client_processes)
                stack.callback(clients.close)
                sdk = baseline
                baseline = lean_direct_ttft(clients, upstream, "bench-300-20-150")
                print(
                    f"  direct TTFT p50 {baseline * 1000:.1f} ms with the lean client"
                    f" ({sdk * 1000:.1f} ms with the SDK); {args.client_processes} client"
                    f" processes, fake: {args.fake}"
                )
            setups = [int(p) for p in args.processes.split(",")]
            held_one, held_two = (
                capacity(env, workers, levels, baseline, fake_pid, clients, args.trials)
                if workers in setups
                else 0
                for workers in (1, 2)
            )
            ratio = f"{held_two / held_one:.2f}x" if held_one else "n/a (1 process held none)"
            print(f"  capacity: 1 process {held_one}, 2 processes {held_two}: {ratio}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
