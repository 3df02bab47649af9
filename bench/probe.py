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
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import time
import tracemalloc
from types import FrameType
from typing import Any

_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
_started = 0.0


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
        }
        del tracked
        for values in _pauses.values():
            values.clear()
        with open(base + ".tmp", "w") as out:
            json.dump(stats, out)
        os.replace(base + ".tmp", base + ".json")

    gc.callbacks.append(_on_gc)
    signal.signal(signal.SIGUSR2, dump)


def main() -> None:
    install(sys.argv[1])
    from assistantd.cli import main as serve

    serve(sys.argv[2:])


if __name__ == "__main__":
    main()
