"""Two checkouts' servers at the same concurrent streaming levels on PostgreSQL, interleaved
round by round: p50 and p99 TTFT over the direct call and server CPU per run, for each level.

The paced profile of bench/scale_bench.py (300 ms to first token, 50 tokens/s, 150 tokens,
streams started over 1 s, every text sequence-checked), one fake model process and one fresh
database for both; each server runs its checkout's `src` first on `sys.path`. Server CPU per
run is /proc's utime+stime over the level divided by its runs (their deltas included).

    git worktree add /tmp/before <commit>
    source .ci-services.env
    PYTHONPATH=src:. .venv/bin/python bench/concurrency_ab_bench.py before=/tmp/before after=. \\
        [--levels 10,25,50] [--rounds 3]

Prints figures; never asserts on time. The machine is shared: the load is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import warnings
from contextlib import ExitStack
from pathlib import Path

import openai

from bench.scale_bench import KEY, direct_ttft, streams
from bench.stream_bench import cpu_seconds, fake_process, percentile
from tests.support.process import spawn_server
from tests.support.server import fresh_postgres_database


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("checkouts", nargs=2, help="name=path of a checkout, e.g. before=/tmp/b")
    parser.add_argument("--levels", default="10,25,50")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sides = {
        n: str(Path(p).resolve() / "src") for n, p in (c.split("=", 1) for c in args.checkouts)
    }
    levels = [int(level) for level in args.levels.split(",")]
    base = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
    if not base:
        raise SystemExit("needs ASSISTANTD_TEST_DATABASE_URL (source .ci-services.env)")
    results: dict[tuple[str, int], list[tuple[float, float, int, float]]] = {}
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
        baseline = direct_ttft(upstream, "bench-300-20-150")
        print(f"direct TTFT {baseline * 1000:.0f} ms; load {os.getloadavg()[0]:.2f}", flush=True)
        for round_ in range(args.rounds):
            order = list(sides.items()) if round_ % 2 == 0 else list(reversed(sides.items()))
            for name, src in order:

                def command(port: int, src: str = src) -> list[str]:
                    code = (
                        f"import sys; sys.path.insert(0, {src!r}); from assistantd.cli import main;"
                        f" main(['serve', '--port', '{port}', '--log-level', 'warning'])"
                    )
                    return [sys.executable, "-c", code]

                with spawn_server(env, quiet=True, command=command) as (url, process):
                    api = f"{url}/v1"
                    with openai.OpenAI(base_url=api, api_key=KEY, max_retries=0) as client:
                        paced = client.beta.assistants.create(model="bench-300-20-150").id
                    asyncio.run(streams(api, paced, 10, 150))  # warm-up
                    for n in levels:
                        cpu = cpu_seconds(process.pid)
                        ttfts, ok, _ = asyncio.run(streams(api, paced, n, 150))
                        cpu = (cpu_seconds(process.pid) - cpu) / n
                        p50 = percentile(ttfts, 0.5) / baseline if ttfts else float("inf")
                        p99 = percentile(ttfts, 0.99) / baseline if ttfts else float("inf")
                        results.setdefault((name, n), []).append((p50, p99, ok, cpu))
                        print(
                            f"  round {round_} {name} {n} streams: {ok}/{n} complete and in order,"
                            f" TTFT ratio p50 {p50:.2f} p99 {p99:.2f}, server CPU"
                            f" {cpu * 1000:.0f} ms/run; load {os.getloadavg()[0]:.2f}",
                            flush=True,
                        )
    print("medians over the rounds:")
    for (name, n), values in sorted(results.items(), key=lambda item: (item[0][1], item[0][0])):
        print(
            f"  {name} {n} streams: TTFT ratio p50 {statistics.median(v[0] for v in values):.2f}"
            f" p99 {statistics.median(v[1] for v in values):.2f};"
            f" server CPU {statistics.median(v[3] for v in values) * 1000:.0f} ms/run;"
            f" lost {sum(n - v[2] for v in values)}"
        )


if __name__ == "__main__":
    main()
