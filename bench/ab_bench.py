"""Two checkouts' servers side by side on one fake upstream, interleaved round by round: server
CPU per streamed delta and per run (instant upstream; CPU from /proc, long runs minus 1-token
runs), and time to first token added over the direct call (A, B and direct in turn).

A before/after of a change in the same conditions, on a busy machine:

    git worktree add /tmp/before <commit>
    PYTHONPATH=src:. .venv/bin/python bench/ab_bench.py before=/tmp/before after=. \
        [--postgres] [--redis]

Prints figures; never asserts on time. Per-run CPU is read in clock ticks (10 ms): use --runs
of 20 or more.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import warnings
from contextlib import ExitStack
from pathlib import Path

import openai

from bench.stream_bench import KEY, cpu_seconds, direct, fake_process_pid, p99, through
from tests.support.process import spawn_server


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("checkouts", nargs="+", help="name=path of a checkout, e.g. before=/tmp/b")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--ttft", type=int, default=20, help="TTFT samples per round and server")
    parser.add_argument("--itl", type=int, default=0, help="ms between tokens of the long runs")
    parser.add_argument("--postgres", action="store_true", help="fresh PostgreSQL databases")
    parser.add_argument(
        "--redis", action="store_true", help="events through ASSISTANTD_TEST_REDIS_URL"
    )
    args = parser.parse_args()
    with ExitStack() as stack:
        upstream, _ = stack.enter_context(fake_process_pid())
        servers = {}
        for name, path in (c.split("=", 1) for c in args.checkouts):
            root = Path(path).resolve()
            env = {
                "ASSISTANTD_DATA_DIR": stack.enter_context(tempfile.TemporaryDirectory()),
                "ASSISTANTD_API_KEYS": KEY,
                "ASSISTANTD_UPSTREAM_BASE_URL": upstream,
            }
            if args.postgres:
                from tests.support.server import fresh_postgres_database

                base = os.environ["ASSISTANTD_TEST_DATABASE_URL"]
                env["ASSISTANTD_DATABASE_URL"] = stack.enter_context(fresh_postgres_database(base))
            if args.redis:  # a key prefix of each server's own
                from tests.support.redis import drop_prefix, fresh_prefix

                redis_url, prefix = os.environ["ASSISTANTD_TEST_REDIS_URL"], fresh_prefix()
                env |= {"ASSISTANTD_REDIS_URL": redis_url, "ASSISTANTD_REDIS_PREFIX": prefix}
                stack.callback(drop_prefix, redis_url, prefix)

            def command(port: int, root: Path = root) -> list[str]:
                python_path = f"PYTHONPATH={root / 'src'}{os.pathsep}{root}"
                serve = ["-m", "assistantd", "serve", "--port", str(port), "--log-level", "warning"]
                return ["env", python_path, sys.executable, *serve]

            url, process = stack.enter_context(
                spawn_server(env, quiet=True, command=command, cwd=root)
            )
            client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
            models = (f"bench-0-{args.itl}-{args.tokens}", "bench-0-0-1", "bench-0-0-20")
            ids = [client.beta.assistants.create(model=model).id for model in models]
            for _ in range(3):  # warm-up
                for assistant in ids:
                    through(client, assistant)
            servers[name] = (client, process.pid, *ids)
        straight = openai.OpenAI(base_url=upstream, api_key=KEY, max_retries=0)
        database = "postgresql" if args.postgres else "sqlite"
        events = "redis" if args.redis else "in-process"
        print(f"load average at start {os.getloadavg()[0]:.2f}; database {database}, {events}")
        long_cpu: dict[str, list[float]] = {name: [] for name in servers}
        short_cpu: dict[str, list[float]] = {name: [] for name in servers}
        ttft: dict[str, list[float]] = {name: [] for name in (*servers, "direct")}
        for _ in range(args.rounds):
            for name, (client, pid, long_id, short_id, _first) in servers.items():
                for assistant, into in ((short_id, short_cpu), (long_id, long_cpu)):
                    before = cpu_seconds(pid)
                    for _ in range(args.runs):
                        through(client, assistant)
                    into[name].append((cpu_seconds(pid) - before) / args.runs)
            for _ in range(args.ttft):
                ttft["direct"].append(direct(straight, "bench-0-0-20")[0])
                for name, (client, _pid, _long, _short, first_id) in servers.items():
                    ttft[name].append(through(client, first_id)[0])
        med = statistics.median
        d50, d99 = med(ttft["direct"]), p99(ttft["direct"])
        print(f"direct TTFT p50 {d50 * 1000:.2f} ms, p99 {d99 * 1000:.2f} ms")
        for name in servers:
            pairs = zip(long_cpu[name], short_cpu[name], strict=True)
            marginal = [(long - short) / (args.tokens - 1) for long, short in pairs]
            print(
                f"{name}: CPU per run {min(short_cpu[name]) * 1000:.2f} ms (least of"
                f" {args.rounds} rounds; median {med(short_cpu[name]) * 1000:.2f}), per delta"
                f" {min(marginal) * 1e6:.1f} µs (median {med(marginal) * 1e6:.1f});"
                f" TTFT added p50 {(med(ttft[name]) - d50) * 1000:+.2f} ms,"
                f" p99 {(p99(ttft[name]) - d99) * 1000:+.2f} ms"
            )
        print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
