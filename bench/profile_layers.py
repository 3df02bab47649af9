"""Where a server's CPU goes, by layer: py-spy's raw samples of `assistantd serve` summed by the
innermost frame that names a layer.

Record the server under a bench's load (py-spy follows the bench's child processes and keeps
only the server's samples here), then summarise:

    py-spy record --subprocesses --format raw --rate 250 -o /tmp/spy.txt -- \\
        env PYTHONPATH=src:. .venv/bin/python bench/scale_bench.py --takeovers 0 --streams 0 \\
        --capacity 100 --trials 6 --processes 1
    .venv/bin/python bench/profile_layers.py /tmp/spy.txt

A sample counts toward the first layer found walking from the innermost frame outwards, so
"upstream HTTP" is the time spent inside httpx, httpcore and anyio below our code, and "ours:
executor" only what runs in our own frames. Idle samples (the loop waiting) are not recorded.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterable

# (layer, pattern of a frame's file), tried in order on each frame from the innermost out;
# py-spy writes a frame as "function (package/module.py:line)".
LAYERS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern))
    for name, pattern in [
        ("upstream HTTP (httpx, httpcore, anyio)", r"\((httpx|httpcore|anyio|h11)/"),
        ("database (asyncpg, SQLAlchemy, ours)", r"\((asyncpg|sqlalchemy|assistantd/db)/"),
        ("client socket writes (uvicorn's protocol)", r"\(uvicorn/protocols/"),
        ("SSE encoding and responses", r"\((assistantd/(events/sse|responses\.py)|starlette/resp)"),
        ("event broker", r"\(assistantd/events/"),
        ("pydantic", r"\(pydantic(_core)?/"),
        ("FastAPI, starlette, middleware", r"\((fastapi|starlette|assistantd/(observability|v1))/"),
        ("ours: executor", r"\(assistantd/executor/"),
        ("ours: the rest", r"\(assistantd/"),
        ("event loop (uvloop, asyncio)", r"\((uvloop|asyncio)/|\(<frozen|\(selectors"),
    ]
]


def layer(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, pattern in LAYERS:
            if pattern.search(frame):
                return name
    return "other"


def summarise(lines: Iterable[str], process: str) -> Counter[str]:
    """Samples per layer, of the processes whose command line contains `process`."""
    counts: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        # With --subprocesses the outermost frames name the process and its parents, each
        # "process PID:command line"; the innermost of them is the sampled process.
        owners = [frame for frame in stack.split(";") if frame.startswith("process ")]
        if owners and process in owners[-1]:
            counts[layer(stack)] += int(count)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("raw", help="py-spy's --format raw output")
    parser.add_argument("--process", default="assistantd serve", help="keep samples of this")
    args = parser.parse_args()
    with open(args.raw, encoding="utf-8") as lines:
        counts = summarise(lines, args.process)
    total = sum(counts.values())
    if not total:
        raise SystemExit(f"no samples of a process matching {args.process!r}")
    print(f"{total} samples of {args.process!r}")
    for name, count in counts.most_common():
        print(f"  {100 * count / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
