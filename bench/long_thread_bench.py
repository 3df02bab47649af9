"""Long threads: TTFT of a run on a 500-message, ~100k-token thread vs a 2-message thread, and
how long the server's event loop stalls while it builds that context.

Every model call reloads the thread and renders and counts it; done on the event loop, that
stops every other stream of the process. Measured at the client, A/B interleaved in one run:

  (a) TTFT (time to the first `thread.message.delta`) of a streamed run on the long thread and
      on the short one (instant upstream, 5 tokens): medians, and the long one's added ms;
  (b) the loop stall, seen by a neighbour: a second run streams 200 tokens at 10 ms/token on
      its own thread while the measured run starts; its largest gap between deltas minus the
      10 ms it should be, during long-thread runs vs during short-thread runs. A gap is the
      event loop (or the machine) not serving that stream.
  (c) the loop stall itself, in the server: bench/probe.py's loop-lag probe (a task sleeping
      1 ms over and over, BENCH_LOOP_LAG_MS) gives each late wake-up with the CPU the loop's
      thread used meanwhile; per measured run (from its request to its first delta), the
      largest lag and the largest loop CPU between two wake-ups (code that ran on the loop
      without yielding; the rest of a lag is the loop waiting for the GIL or for a core).

Starts a fake upstream process (bench/stream_bench.py's) and an assistantd process (SQLite in
a temp dir, or ASSISTANTD_DATABASE_URL) under bench/probe.py. Prints figures and the load
average; asserts nothing.

    PYTHONPATH=src:. .venv/bin/python bench/long_thread_bench.py [--rounds 9] [--messages 500]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from bench.memory_bench import Probe
from bench.stream_bench import KEY, fake_process
from tests.support.process import spawn_server

HEADERS = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v2"}
NEIGHBOUR_ITL_MS = 10
LAG_PROBE_MS = 1
Window = tuple[float, float]  # perf_counter from the measured run's request to its first delta


def message_text(index: int, tokens: int) -> str:
    """~`tokens` tokens of varied words (numbers keep the BPE from merging them away)."""
    return " ".join(f"w{index}x{i}" for i in range(tokens // 3))


async def make_thread(http: httpx.AsyncClient, messages: int, tokens_each: int) -> str:
    thread = (await http.post("/threads", json={})).json()["id"]
    for index in range(messages):
        role = "user" if index % 2 == 0 else "assistant"
        body = {"role": role, "content": message_text(index, tokens_each)}
        got = await http.post(f"/threads/{thread}/messages", json=body)
        assert got.status_code == 200, got.text
    return str(thread)


async def stream_run(
    http: httpx.AsyncClient, thread: str, assistant: str, model: str
) -> tuple[float, list[float]]:
    """(seconds to the first delta, arrival times of every delta)."""
    start = time.perf_counter()
    arrivals: list[float] = []
    body = {"assistant_id": assistant, "model": model, "stream": True}
    async with http.stream("POST", f"/threads/{thread}/runs", json=body) as got:
        assert got.status_code == 200, await got.aread()
        event = ""
        async for line in got.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: {") and event == "thread.message.delta":
                arrivals.append(time.perf_counter())
            elif line.startswith("data: {") and event == "thread.run.failed":
                raise RuntimeError(orjson.loads(line[6:]).get("last_error"))
    assert arrivals, "no delta"
    return arrivals[0] - start, arrivals


async def direct_ttft(upstream: str, messages: list[dict[str, str]]) -> float:
    """Seconds to the first content chunk of the same prompt sent to the upstream directly."""
    body = {"model": "bench-0-0-5", "messages": messages, "stream": True}
    async with httpx.AsyncClient(timeout=120) as direct:
        start = time.perf_counter()
        async with direct.stream("POST", f"{upstream}/chat/completions", json=body) as got:
            async for line in got.aiter_lines():
                if '"content":"' in line:
                    return time.perf_counter() - start
    raise RuntimeError("no content from the upstream")


def prompt(messages: int, tokens: int) -> list[dict[str, str]]:
    return [
        {"role": "user" if index % 2 == 0 else "assistant", "content": message_text(index, tokens)}
        for index in range(messages)
    ]


async def one_round(
    http: httpx.AsyncClient, assistant: str, thread: str, neighbour: str
) -> tuple[float, float, Window]:
    """(TTFT on `thread`, the neighbour's largest extra gap while it ran, the run's window)."""
    neighbour_run = asyncio.create_task(
        stream_run(http, neighbour, assistant, f"bench-0-{NEIGHBOUR_ITL_MS}-200")
    )
    await asyncio.sleep(0.3)  # the neighbour is streaming
    measured_start = time.perf_counter()
    ttft, _ = await stream_run(http, thread, assistant, "bench-0-0-5")
    measured_end = time.perf_counter()
    _, arrivals = await neighbour_run
    gaps = [
        (later - earlier) * 1000 - NEIGHBOUR_ITL_MS
        for earlier, later in itertools.pairwise(arrivals)
        if later >= measured_start and earlier <= measured_end
    ]
    return ttft, max(gaps, default=0.0), (measured_start, measured_start + ttft)


def stalls(lags: list[list[float]], window: Window) -> tuple[float, float]:
    """(largest loop lag, largest loop CPU between two wake-ups) in ms, of the probe's records
    (wake-up time, lag, loop CPU, other threads' CPU) whose gap overlaps `window`."""
    start, end = window
    inside = [lag for lag in lags if lag[0] >= start and lag[0] - lag[1] <= end]
    return (
        max((lag[1] * 1000 for lag in inside), default=0.0),
        max((lag[2] * 1000 for lag in inside), default=0.0),
    )


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as data, fake_process() as upstream:
        probe = Probe(Path(data) / "probe")
        env = {
            "BENCH_LOOP_LAG_MS": str(LAG_PROBE_MS),
            "ASSISTANTD_DATA_DIR": data,
            "ASSISTANTD_API_KEYS": f"{KEY}=bench",
            "ASSISTANTD_UPSTREAM_BASE_URL": upstream,
            "ASSISTANTD_UPSTREAM_API_KEY": "x",
            "ASSISTANTD_METRICS": "off",
        }
        if os.environ.get("ASSISTANTD_DATABASE_URL"):
            env["ASSISTANTD_DATABASE_URL"] = os.environ["ASSISTANTD_DATABASE_URL"]
        with spawn_server(env, quiet=True, start_s=90, command=probe.command) as (url, process):
            probe.pid = process.pid
            async with httpx.AsyncClient(
                base_url=f"{url}/v1", headers=HEADERS, timeout=120
            ) as http:
                assistant = (await http.post("/assistants", json={"model": "bench-0-0-5"})).json()
                made = time.perf_counter()
                long = await make_thread(http, args.messages, args.tokens)
                print(
                    f"long thread: {args.messages} messages of ~{args.tokens} tokens "
                    f"({time.perf_counter() - made:.1f} s to make)"
                )
                short = await make_thread(http, 2, args.tokens)
                neighbour = await make_thread(http, 1, 10)
                for thread in (long, short):  # warm-up (first loads, caches)
                    await one_round(http, assistant["id"], thread, neighbour)
                results: dict[str, list[tuple[float, float, Window]]] = {"long": [], "short": []}
                direct: dict[str, list[float]] = {"long": [], "short": []}
                prompts = {
                    "long": prompt(args.messages, args.tokens),
                    "short": prompt(2, args.tokens),
                }
                for _ in range(args.rounds):  # A/B interleaved, and against the upstream
                    for name, thread in (("long", long), ("short", short)):
                        results[name].append(
                            await one_round(http, assistant["id"], thread, neighbour)
                        )
                        direct[name].append(await direct_ttft(upstream, prompts[name]))
                lags = (await probe.read())["lags"]
    report(results, direct, lags)


def report(
    results: dict[str, list[tuple[float, float, Window]]],
    direct: dict[str, list[float]],
    lags: list[list[float]],
) -> None:
    ttft = {name: statistics.median(r[0] for r in rows) * 1000 for name, rows in results.items()}
    up = {name: statistics.median(rows) * 1000 for name, rows in direct.items()}
    added = {name: ttft[name] - up[name] for name in ttft}
    gap = {name: statistics.median(r[1] for r in rows) for name, rows in results.items()}
    worst = {name: max(r[1] for r in rows) for name, rows in results.items()}
    print(f"TTFT p50 through assistantd: long {ttft['long']:.1f} ms, short {ttft['short']:.1f} ms")
    print(
        f"TTFT p50 direct to the upstream, same prompt: long {up['long']:.1f} ms, "
        f"short {up['short']:.1f} ms"
    )
    print(
        f"added by assistantd: long {added['long']:+.1f} ms, short {added['short']:+.1f} ms; "
        f"the long thread's extra: {added['long'] - added['short']:+.1f} ms (aim <= +15 ms); "
        f"ratio to direct: long {ttft['long'] / up['long']:.2f}x, "
        f"short {ttft['short'] / up['short']:.2f}x"
    )
    print(
        f"neighbour's extra gap p50: long {gap['long']:.1f} ms, short {gap['short']:.1f} ms; "
        f"worst: long {worst['long']:.1f} ms, short {worst['short']:.1f} ms "
        f"(the long one's excess bounds the loop stall; aim <= 5 ms)"
    )
    for name, rows in results.items():
        seen = [stalls(lags, row[2]) for row in rows]
        lag = sorted(s[0] for s in seen)
        own = sorted(s[1] for s in seen)
        print(
            f"loop stall in the server, {name} thread, from request to first delta "
            f"(largest lag of a {LAG_PROBE_MS} ms probe; largest loop CPU between two "
            f"wake-ups): p50 {statistics.median(lag):.1f} / worst {lag[-1]:.1f} ms; "
            f"CPU p50 {statistics.median(own):.1f} / worst {own[-1]:.1f} ms (aim <= 5 ms)"
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--tokens", type=int, default=200, help="tokens per message")
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
