"""`assistantd serve` with probes a benchmark reads from outside: GC pauses and allocations.

    python bench/probe.py <out prefix> serve --port N ...   # then: kill -USR2 <pid>

On each SIGUSR2 the server writes `<out prefix>.<n>.json`: the garbage collector's pauses
(seconds, per generation) since the previous signal, `gc.get_freeze_count()`, the live
object count and its histogram by type, and, when started with BENCH_TRACEMALLOC=<frames>, a
tracemalloc snapshot (`<out prefix>.<n>.snapshot`, read with `tracemalloc.Snapshot.load`) of
what was allocated since the first signal and is still alive (tracing starts there: start-up
under tracemalloc takes minutes). The JSON file is written last (renamed into place), so it
appearing means both are complete.

The pauses come from `gc.callbacks` (start/stop of every collection, automatic or not); the
handler runs on the main thread between bytecodes, so a dump briefly pauses the event loop.

With BENCH_LOOP_LAG_MS=<interval> a task on the server's event loop sleeps that long over and
over; each wake-up later than `LAG_FROM_S` past its due time is a loop stall, kept as
(perf_counter at the wake-up, lag, CPU the loop's own thread used since the previous wake-up,
CPU every other thread of the process used meanwhile), all in seconds, and dumped as "lags".
perf_counter is the machine's monotonic clock, so a benchmark places the stalls in its own
timeline. The loop's CPU tells a stall of code that ran on the loop from one where the loop
waited (for the GIL held by a worker thread, or for a core of the machine).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import time
import tracemalloc
from collections import deque
from types import FrameType
from typing import Any

_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
_started = 0.0
LAG_FROM_S = 0.001
_lags: deque[tuple[float, float, float, float]] = deque(maxlen=200_000)


async def _lag_probe(interval: float) -> None:
    """Record the event loop's stalls (see the module docstring)."""
    import asyncio

    last, last_loop, last_all = time.perf_counter(), time.thread_time(), time.process_time()
    while True:
        await asyncio.sleep(interval)
        now, loop_cpu, all_cpu = time.perf_counter(), time.thread_time(), time.process_time()
        lag = now - last - interval
        if lag > LAG_FROM_S:
            own = loop_cpu - last_loop
            _lags.append((now, lag, own, all_cpu - last_all - own))
        last, last_loop, last_all = now, loop_cpu, all_cpu


def _start_lag_probe(interval: float) -> None:
    """Start `_lag_probe` on the served loop once the server is up (one process, `--workers 1`)."""
    import asyncio

    from assistantd.serving import DrainingServer

    startup = DrainingServer.startup
    tasks: list[asyncio.Task[None]] = []

    async def started(self: DrainingServer, sockets: Any = None) -> None:
        await startup(self, sockets)
        tasks.append(asyncio.get_running_loop().create_task(_lag_probe(interval)))

    DrainingServer.startup = started  # type: ignore[method-assign]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    global _started
    if phase == "start":
        _started = time.perf_counter()
    else:
        _pauses[info["generation"]].append(time.perf_counter() - _started)


def _type_counts(objects: list[Any]) -> dict[str, int]:
    """How many objects the collector tracks, by type (module.qualname)."""
    counts: dict[str, int] = {}
    for obj in objects:
        kind = type(obj)
        name = f"{kind.__module__}.{kind.__qualname__}"
        counts[name] = counts.get(name, 0) + 1
    return counts


def install(prefix: str) -> None:
    frames = int(os.environ.get("BENCH_TRACEMALLOC", "0"))
    dumps = 0

    def dump(signum: int, frame: FrameType | None) -> None:
        nonlocal dumps
        dumps += 1
        base = f"{prefix}.{dumps}"
        if frames:
            if not tracemalloc.is_tracing():
                tracemalloc.start(frames)
            tracemalloc.take_snapshot().dump(base + ".snapshot")
        tracked = gc.get_objects()
        stats = {
            "pauses": {str(gen): list(values) for gen, values in _pauses.items()},
            "frozen": gc.get_freeze_count(),
            "objects": len(tracked),
            "types": _type_counts(tracked),
            "lags": list(_lags),
        }
        del tracked
        for values in _pauses.values():
            values.clear()
        _lags.clear()
        with open(base + ".tmp", "w") as out:
            json.dump(stats, out)
        os.replace(base + ".tmp", base + ".json")

    gc.callbacks.append(_on_gc)
    signal.signal(signal.SIGUSR2, dump)


def main() -> None:
    install(sys.argv[1])
    lag_ms = float(os.environ.get("BENCH_LOOP_LAG_MS", "0"))
    if lag_ms > 0:
        _start_lag_probe(lag_ms / 1000)
    from assistantd.cli import main as serve

    serve(sys.argv[2:])


if __name__ == "__main__":
    main()
