"""What metrics and tracing cost, as ratios of server CPU against the same server without them.

Starts three assistantd processes side by side (SQLite in temp dirs), all pointed at one fake
upstream process (stream_bench's profiles; `bench-0-0-200` = instant, 200 tokens):

  off      ASSISTANTD_METRICS=off, no tracing (the baseline)
  metrics  ASSISTANTD_METRICS=open (the default)
  tracing  metrics open, and OTLP traces batched to a local sink (a real HTTP endpoint)

and measures, round by round with the three interleaved (so the machine's load, shared with
other work, falls on all of them alike) in short slices, the server's CPU time (its threads'
schedstat, to the nanosecond; /proc/<pid>/stat's ticks for a slice in which a thread came or
went) for

  crud    N sequential API calls (GET /assistants/{id}, POST /threads/{id}/messages,
          GET /threads/{id}/messages?limit=20, in turn) on one keep-alive connection;
  stream  M streaming runs (POST /threads/runs, stream=true, read to `done`).

Prints CPU per call and the ratios to `off` (the median of the per-round ratios, and the ratio
of the least rounds); never asserts on time. `--before DIR` adds a fourth server, `before`:
`tracing` run from another checkout (DIR/src, e.g. a `git worktree` of the commit before a
change), interleaved with the others, so a change's before and after meet the same load.

    PYTHONPATH=src:. .venv/bin/python bench/observability_bench.py \
        [--rounds 101] [--calls 120] [--runs 5] [--before ../assistantd-before]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.stream_bench import cpu_seconds, fake_process
from tests.support.process import spawn_server
from tests.support.server import free_port

KEY = "sk-bench"
MODEL = "bench-0-0-200"


@contextmanager
def otlp_sink() -> Iterator[tuple[str, list[int]]]:
    """A collector stand-in: accepts OTLP/HTTP exports and counts their bytes."""
    received: list[int] = []

    async def traces(request: Request) -> Response:
        received.append(len(await request.body()))
        return Response(b"", media_type="application/x-protobuf")

    port = free_port()
    app = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Target:
    def __init__(self, name: str, url: str, pid: int) -> None:
        self.name, self.url, self.pid = name, url, pid
        self.http = httpx.Client(
            base_url=f"{url}/v1", headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        )
        self.assistant = self.http.post("/assistants", json={"model": MODEL}).json()["id"]
        self.thread = self.http.post("/threads", json={}).json()["id"]
        for i in range(20):
            self.message(i)

    def message(self, i: int) -> None:
        body = {"role": "user", "content": f"message {i}: hello, how are you today?"}
        self.http.post(f"/threads/{self.thread}/messages", json=body).raise_for_status()

    def crud(self, calls: int) -> None:
        for i in range(calls):
            kind = i % 3
            if kind == 0:
                self.http.get(f"/assistants/{self.assistant}").raise_for_status()
            elif kind == 1:
                self.message(i)
            else:
                self.http.get(f"/threads/{self.thread}/messages", params={"limit": 20})

    def stream(self, runs: int) -> None:
        body = {
            "assistant_id": self.assistant,
            "thread": {"messages": [{"role": "user", "content": "go"}]},
            "stream": True,
        }
        for _ in range(runs):
            with self.http.stream("POST", "/threads/runs", json=body) as response:
                response.raise_for_status()
                tail = b""
                for piece in response.iter_bytes():
                    tail = (tail + piece)[-64:]
                assert b"event: done" in tail, "the stream did not finish"


def thread_cpu(pid: int) -> tuple[float, frozenset[str]]:
    """CPU seconds of the process's live threads, to the nanosecond (the first field of each
    /proc/<pid>/task/<tid>/schedstat), and the set of those threads. /proc/<pid>/stat counts
    in clock ticks (10 ms), a tenth of a slice of 60 calls; a thread that ends between two
    readings takes its time with it, so a slice whose thread set changed is measured in
    ticks instead."""
    total, tids = 0, []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as handle:
                total += int(handle.read().split()[0])
        except FileNotFoundError:  # ended while listed
            continue
        tids.append(tid)
    return total / 1e9, frozenset(tids)


def measure(
    targets: list[Target], work: Callable[[Target], None], rounds: int
) -> dict[str, list[float]]:
    """Server CPU seconds of `work` per target and round, the targets interleaved each round
    (in alternating order), in short slices so that a change of the machine's load between
    two slices falls on all three alike. Other work on the machine only ever adds CPU time
    (contention, cold caches), so `report` shows the least rounds beside the paired
    per-round ratios."""
    for target in targets:
        work(target)  # warm-up
    samples: dict[str, list[float]] = {t.name: [] for t in targets}
    for round_ in range(rounds):
        order = targets if round_ % 2 == 0 else targets[::-1]
        for target in order:
            ticks = cpu_seconds(target.pid)
            before, threads = thread_cpu(target.pid)
            work(target)
            after, threads_after = thread_cpu(target.pid)
            exact = threads == threads_after
            spent = after - before if exact else cpu_seconds(target.pid) - ticks
            samples[target.name].append(spent)
    return samples


def report(title: str, cpu: dict[str, list[float]], per: int, unit: str) -> None:
    """Per config: CPU per call (least and median of the rounds), and the median of the
    per-round ratios to `off` (paired by round, so a busy spell that hits one round hits all
    three configs alike)."""
    print(title)
    for name, values in cpu.items():
        paired = statistics.median(v / o for v, o in zip(values, cpu["off"], strict=True))
        print(
            f"  {name:8} {1e6 * min(values) / per:9.1f} µs CPU per {unit} (least),"
            f" {1e6 * statistics.median(values) / per:9.1f} (median)"
            f"   ratio to off: {paired:6.3f} (median of rounds),"
            f" {min(values) / min(cpu['off']):6.3f} (least)"
        )
    if "before" in cpu:  # the change itself, paired by round as above
        after, before = cpu["tracing"], cpu["before"]
        paired = statistics.median(a / b for a, b in zip(after, before, strict=True))
        print(
            f"  tracing / before: {paired:6.3f} (median of rounds),"
            f" {min(after) / min(before):6.3f} (least)"
        )


def _served_from(checkout: Path) -> Callable[[int], list[str]]:
    """`python -m assistantd serve` with `checkout`'s code first on the path (env(1) execs
    Python in its place, so the pid measured is the server's)."""
    root = checkout.resolve()
    path = f"PYTHONPATH={root / 'src'}{os.pathsep}{root}"

    def command(port: int) -> list[str]:
        serve = ["-m", "assistantd", "serve", "--port", str(port), "--log-level", "warning"]
        return ["env", path, sys.executable, *serve]

    return command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=101)
    parser.add_argument("--calls", type=int, default=120)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, help="a checkout to run `tracing` from too")
    args = parser.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at start: {load}, cpus {os.cpu_count()}")
    with ExitStack() as stack:
        upstream = stack.enter_context(fake_process())
        sink, exported = stack.enter_context(otlp_sink())
        configs = {
            "off": {"ASSISTANTD_METRICS": "off"},
            "metrics": {"ASSISTANTD_METRICS": "open"},
            "tracing": {"ASSISTANTD_METRICS": "open", "OTEL_EXPORTER_OTLP_ENDPOINT": sink},
        }
        if args.before is not None:
            configs["before"] = configs["tracing"]
        targets = []
        for name, extra in configs.items():
            data = stack.enter_context(tempfile.TemporaryDirectory())
            env = {
                "ASSISTANTD_DATA_DIR": data,
                "ASSISTANTD_API_KEYS": KEY,
                "ASSISTANTD_UPSTREAM_BASE_URL": upstream,
                **extra,
            }
            command = _served_from(args.before) if name == "before" else None
            url, process = stack.enter_context(spawn_server(env, quiet=True, command=command))
            targets.append(Target(name, url, process.pid))
        report(
            f"crud: {args.calls} sequential calls x {args.rounds} rounds",
            measure(targets, lambda t: t.crud(args.calls), args.rounds),
            args.calls,
            "call",
        )
        report(
            f"stream: {args.runs} streaming runs of 200 deltas x {args.rounds} rounds",
            measure(targets, lambda t: t.stream(args.runs), args.rounds),
            args.runs,
            "run",
        )
        scraped = httpx.get(f"{targets[1].url}/metrics").text
        print(
            f"checks: /metrics of `metrics` is {len(scraped)} bytes;"
            f" the sink got {len(exported)} OTLP exports ({sum(exported)} bytes)"
            " from the tracing servers"
        )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
