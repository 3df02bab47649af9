"""Memory of one process: idle RSS, RSS per open idle stream, and a short soak.

  (a) idle RSS of a started server, before and after its first run (first loads);
  (b) RSS per open idle stream: N streamed runs whose model has not answered yet (the fake
      upstream waits 10 minutes before its first token), each client holding its stream;
      (RSS with them open - idle RSS) / N;
  (c) soak: `--soak-s` seconds of streamed runs (50 tokens at 20 ms/token) at `--concurrency`,
      RSS and p99 TTFT per window: growth from the first window to the last, errors, drift;
  (d) the garbage collector's pauses in the server (bench/probe.py: `gc.callbacks`) per soak
      window and while the idle streams open: collections per generation, the longest pause,
      the p99 pause and the share of wall time spent collecting;
  (e) with `--trace N`: what an open idle stream holds, by allocation site (tracemalloc with
      N frames in the server, snapshots before and with the streams open), per stream; and
      what grew between the soak's first and last windows, by site;
  (f) the tracked objects that grew during the soak, by type (first to last window).

RSS is read from /proc/<pid>/status (VmRSS, and its anonymous and file-backed parts) of the
server process. Starts a fake upstream process (bench/stream_bench.py's) and an assistantd
process (SQLite in a temp dir, or ASSISTANTD_DATABASE_URL) under bench/probe.py. Prints
figures and the load average; asserts nothing.

    PYTHONPATH=src:. .venv/bin/python bench/memory_bench.py [--streams 200] [--soak-s 60]
        [--concurrency 50] [--trace 8]
        # the issue's figures: --streams 2000 --soak-s 600 --concurrency 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx

from bench.stream_bench import KEY, fake_process, percentile
from tests.support.process import spawn_server

HEADERS = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v2"}


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """VmRSS (or RssAnon: the heap; RssFile: mapped files, e.g. libraries' pages read once,
    which the kernel may drop at any time) of `pid`, in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field}")


def rss_text(pid: int) -> str:
    return (
        f"{rss_mb(pid):.1f} MB (anon {rss_mb(pid, 'RssAnon'):.1f}, "
        f"file {rss_mb(pid, 'RssFile'):.1f})"
    )


class Probe:
    """The server's probes (bench/probe.py): ask with SIGUSR2, read what it wrote."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.dumps = 0
        self.pid = 0

    def command(self, port: int) -> list[str]:
        probe = str(Path(__file__).with_name("probe.py"))
        serve = ["serve", "--port", str(port), "--log-level", "warning"]
        return [sys.executable, probe, str(self.prefix), *serve]

    async def read(self) -> dict[str, Any]:
        self.dumps += 1
        os.kill(self.pid, signal.SIGUSR2)
        stats = await asyncio.to_thread(_wait_json, f"{self.prefix}.{self.dumps}.json")
        stats["snapshot"] = f"{self.prefix}.{self.dumps}.snapshot"
        return stats


def _wait_json(path: str) -> dict[str, Any]:
    for _ in range(1200):
        if os.path.exists(path):
            with open(path) as written:
                stats: dict[str, Any] = json.load(written)
                return stats
        time.sleep(0.05)
    raise RuntimeError("the server wrote no probe")


def gc_text(stats: dict[str, Any], seconds: float) -> str:
    pauses = stats["pauses"]
    every = [p for values in pauses.values() for p in values]
    tracked = f"{stats['objects']} objects tracked, {stats['frozen']} frozen"
    if not every:
        return f"GC: no collection; {tracked}"
    counts = "/".join(str(len(pauses[g])) for g in ("0", "1", "2"))
    return (
        f"GC: {counts} collections (gen 0/1/2), longest {max(every) * 1000:.1f} ms, "
        f"p99 {percentile(every, 0.99) * 1000:.2f} ms, {sum(every) / seconds * 100:.2f}% of "
        f"the wall time; {tracked}"
    )


def type_growth(before: dict[str, Any], after: dict[str, Any], top: int = 15) -> str:
    """The types whose tracked objects grew most between two probes."""
    old, new = before["types"], after["types"]
    grown = {name: count - old.get(name, 0) for name, count in new.items()}
    ranked = sorted(grown.items(), key=lambda item: item[1], reverse=True)[:top]
    return ", ".join(f"{name} {diff:+d}" for name, diff in ranked if diff > 0)


def per_stream_sites(
    before: str, after: str, n: int, top: int = 25, depth: int = 5, unit: str = "stream"
) -> None:
    """The allocation sites that grew between two snapshots, per stream (innermost frame
    first)."""
    old, new = tracemalloc.Snapshot.load(before), tracemalloc.Snapshot.load(after)
    diffs = new.compare_to(old, "traceback")
    total = sum(d.size_diff for d in diffs)
    by_file: dict[str, int] = {}
    for diff in diffs:
        name = Path(diff.traceback[-1].filename).name
        by_file[name] = by_file.get(name, 0) + diff.size_diff
    files = sorted(by_file.items(), key=lambda item: item[1], reverse=True)[:12]
    print(f"  traced (Python allocations): {total / n / 1024:.1f} KB per {unit}; by file:")
    print("    " + ", ".join(f"{name} {size / n:.0f} B" for name, size in files))
    print("  the top sites:")
    for diff in sorted(diffs, key=lambda d: d.size_diff, reverse=True)[:top]:
        frames = [f"{Path(f.filename).name}:{f.lineno}" for f in reversed(diff.traceback)]
        print(
            f"    {diff.size_diff / n:8.0f} B {diff.count_diff / n:5.1f} blocks  "
            + " < ".join(frames[:depth])
        )


async def streamed_run(
    http: httpx.AsyncClient, assistant: str, model: str, opened: asyncio.Event | None = None
) -> float:
    """Seconds to the first delta; with `opened`, set it once the run is in progress and then
    hold the stream open until cancelled."""
    body = {
        "assistant_id": assistant,
        "model": model,
        "stream": True,
        "thread": {"messages": [{"role": "user", "content": "go"}]},
    }
    start = time.perf_counter()
    first: float | None = None
    async with http.stream("POST", "/threads/runs", json=body) as got:
        if got.status_code != 200:
            raise RuntimeError(f"{got.status_code}: {(await got.aread())[:200]!r}")
        async for line in got.aiter_lines():
            if opened is not None and line == "event: thread.run.in_progress":
                opened.set()
            if first is None and line == "event: thread.message.delta":
                first = time.perf_counter() - start
    if first is None:
        raise RuntimeError("the stream ended without a delta")
    return first


async def idle_streams(
    http: httpx.AsyncClient, assistant: str, probe: Probe, n: int, trace: bool
) -> float:
    pid = probe.pid
    before = await probe.read()
    opened_at = time.monotonic()
    events = [asyncio.Event() for _ in range(n)]
    tasks = [
        asyncio.create_task(streamed_run(http, assistant, "bench-600000-0-1", event))
        for event in events
    ]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 300)
    await asyncio.sleep(2)  # settle
    open_rss = rss_mb(pid)
    rss_parts = rss_text(pid)
    opened = await probe.read()
    print(
        f"{n} idle streams opened: RSS {rss_parts}; {gc_text(opened, time.monotonic() - opened_at)}"
    )
    print(f"  tracked objects grown with them: {type_growth(before, opened)}")
    if trace:
        per_stream_sites(before["snapshot"], opened["snapshot"], n)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return open_rss


async def soak(
    http: httpx.AsyncClient,
    assistant: str,
    probe: Probe,
    seconds: float,
    concurrency: int,
    trace: bool,
) -> None:
    pid = probe.pid
    window_s = max(5.0, seconds / 6)
    windows: list[tuple[float, list[float], str]] = []
    errors = 0
    end = time.monotonic() + seconds
    ttfts: list[float] = []

    async def worker() -> None:
        nonlocal errors
        while time.monotonic() < end:
            try:
                ttfts.append(await streamed_run(http, assistant, "bench-0-20-50"))
            except Exception:
                errors += 1

    await probe.read()  # the pauses from here on
    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    probes: list[dict[str, Any]] = []
    while time.monotonic() < end:
        began = time.monotonic()
        await asyncio.sleep(min(window_s, max(end - time.monotonic(), 0.1)))
        probes.append(await probe.read())
        windows.append((rss_mb(pid), ttfts[:], gc_text(probes[-1], time.monotonic() - began)))
        ttfts.clear()
    await asyncio.gather(*workers)
    print(f"soak: {seconds:.0f} s at {concurrency} concurrent streams, {errors} errors")
    for index, (rss, window, collections) in enumerate(windows):
        p50, p90, p99, top = (
            (percentile(window, q) * 1000 if window else float("nan")) for q in (0.5, 0.9, 0.99, 1)
        )
        print(
            f"  window {index}: RSS {rss:.1f} MB, {len(window)} runs, TTFT p50 {p50:.1f} ms "
            f"p90 {p90:.1f} p99 {p99:.1f} max {top:.1f} ms; {collections}"
        )
    if len(windows) >= 2 and windows[0][1] and windows[-1][1]:
        growth = (windows[-1][0] / windows[0][0] - 1) * 100
        first_p99 = percentile(windows[0][1], 0.99)
        drift = (percentile(windows[-1][1], 0.99) / first_p99 - 1) * 100
        print(
            f"  RSS growth first->last window {growth:+.1f}% (aim <= 5%), "
            f"p99 TTFT drift {drift:+.1f}% (aim <= 20%)"
        )
    if len(probes) >= 2:  # what grew while the soak ran: types, and sites with --trace
        print(f"  tracked objects grown, first->last window: {type_growth(probes[0], probes[-1])}")
        if trace:
            per_stream_sites(probes[0]["snapshot"], probes[-1]["snapshot"], 1, unit="soak")


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as data, fake_process() as upstream:
        probe = Probe(Path(data) / "probe")
        env = {
            "ASSISTANTD_DATA_DIR": data,
            "ASSISTANTD_API_KEYS": f"{KEY}=bench",
            "ASSISTANTD_UPSTREAM_BASE_URL": upstream,
            "ASSISTANTD_UPSTREAM_API_KEY": "x",
        }
        if os.environ.get("ASSISTANTD_DATABASE_URL"):
            env["ASSISTANTD_DATABASE_URL"] = os.environ["ASSISTANTD_DATABASE_URL"]
        if args.trace:
            env["BENCH_TRACEMALLOC"] = str(args.trace)
        with spawn_server(env, quiet=True, start_s=90, command=probe.command) as (url, process):
            probe.pid = process.pid
            limits = httpx.Limits(max_connections=args.streams + 50, max_keepalive_connections=50)
            async with httpx.AsyncClient(
                base_url=f"{url}/v1", headers=HEADERS, timeout=900, limits=limits
            ) as http:
                started = rss_mb(process.pid)
                print(f"started: RSS {rss_text(process.pid)}")
                assistant = (await http.post("/assistants", json={"model": "bench-0-0-5"})).json()
                await streamed_run(http, assistant["id"], "bench-0-0-5")
                await asyncio.sleep(1)
                idle = rss_mb(process.pid)
                print(
                    f"idle RSS: {started:.1f} MB started, {idle:.1f} MB after a first run "
                    f"(aim <= 150 MB); after a first run {rss_text(process.pid)}"
                )
                if args.soak_s > 0:  # first: the idle streams' runs keep waiting afterwards
                    await soak(
                        http,
                        assistant["id"],
                        probe,
                        args.soak_s,
                        args.concurrency,
                        bool(args.trace),
                    )
                    idle = rss_mb(process.pid)
                open_rss = await idle_streams(
                    http, assistant["id"], probe, args.streams, bool(args.trace)
                )
                per_stream_kb = (open_rss - idle) * 1024 / args.streams
                print(
                    f"{args.streams} open idle streams: RSS {idle:.1f} -> {open_rss:.1f} MB, "
                    f"{per_stream_kb:.1f} KB per stream (aim <= 64 KB)"
                )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--soak-s", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--trace", type=int, default=0, help="tracemalloc frames in the server (0: off)"
    )
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
