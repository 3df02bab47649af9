"""Server CPU per run under bursts of concurrent streamed runs, two checkouts in turn (PostgreSQL).

Each checkout's server runs on a fresh database of its own next to ASSISTANTD_TEST_DATABASE_URL,
all on one lean fake model (bench/lean_load.py, an instant 1-token answer); the lean load
generator sends bursts of `--concurrency` streamed runs (each text checked), `--runs` a round,
and the servers take their rounds in turn. Per round: the server's CPU per run (from /proc)
and how many distinct PostgreSQL backends its database had during the round (a pool that
opens and closes connections shows as more backends than it keeps).

    source .ci-services.env
    git worktree add /tmp/before <commit>
    PYTHONPATH=src:. .venv/bin/python bench/burst_ab_bench.py before=/tmp/before after=. \
        [--rounds 5] [--runs 400] [--concurrency 40]

Prints figures; never asserts on time. The machine is shared (load printed).
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

from bench.lean_load import Clients, lean_fake_process, words
from bench.scale_bench import postgres_cpu
from bench.stream_bench import KEY, cpu_seconds
from tests.support.process import spawn_server
from tests.support.server import fresh_postgres_database


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("checkouts", nargs="+", help="name=path of a checkout, e.g. before=/tmp/b")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=400, help="runs per round and server")
    parser.add_argument("--concurrency", type=int, default=40, help="runs per burst")
    args = parser.parse_args()
    base = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
    if not base:
        raise SystemExit("needs ASSISTANTD_TEST_DATABASE_URL (source .ci-services.env)")
    with ExitStack() as stack:
        upstream, _ = stack.enter_context(lean_fake_process())
        clients = Clients(2)
        stack.callback(clients.close)
        servers = {}
        for name, path in (c.split("=", 1) for c in args.checkouts):
            root = Path(path).resolve()
            database = stack.enter_context(fresh_postgres_database(base))
            env = {
                "ASSISTANTD_DATA_DIR": stack.enter_context(tempfile.TemporaryDirectory()),
                "ASSISTANTD_API_KEYS": KEY,
                "ASSISTANTD_UPSTREAM_BASE_URL": upstream,
                "ASSISTANTD_DATABASE_URL": database,
                "ASSISTANTD_METRICS": "off",
            }

            def command(port: int, root: Path = root) -> list[str]:
                python_path = f"PYTHONPATH={root / 'src'}{os.pathsep}{root}"
                serve = ["-m", "assistantd", "serve", "--port", str(port), "--log-level", "warning"]
                return ["env", python_path, sys.executable, *serve]

            url, process = stack.enter_context(
                spawn_server(env, quiet=True, command=command, cwd=root)
            )
            client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
            assistant = client.beta.assistants.create(model="bench-0-0-1").id
            body = {
                "assistant_id": assistant,
                "thread": {"messages": [{"role": "user", "content": "go"}]},
                "stream": True,
            }
            clients.run(f"{url}/v1", "/v1/threads/runs", body, KEY, "run", words(1), 40)  # warm
            servers[name] = (f"{url}/v1", process.pid, body, database.rsplit("/", 1)[1])
        print(f"load average at start {os.getloadavg()[0]:.2f}")
        per_run: dict[str, list[float]] = {name: [] for name in servers}
        backends: dict[str, list[int]] = {name: [] for name in servers}
        lost = 0
        for _ in range(args.rounds):
            for name, (api, pid, body, database) in servers.items():
                cpu, done, seen = cpu_seconds(pid), 0, set(postgres_cpu(database))
                for _ in range(args.runs // args.concurrency):
                    results, _ = clients.run(
                        api, "/v1/threads/runs", body, KEY, "run", words(1), args.concurrency, 0.05
                    )
                    done += sum(ok for _, ok in results)
                    lost += len(results) - sum(ok for _, ok in results)
                    seen |= set(postgres_cpu(database))
                per_run[name].append((cpu_seconds(pid) - cpu) / max(done, 1))
                backends[name].append(len(seen))
        for name in servers:
            rounds = ", ".join(f"{1000 * v:.2f}" for v in per_run[name])
            print(
                f"{name}: CPU per run median {1000 * statistics.median(per_run[name]):.2f} ms"
                f" (least {1000 * min(per_run[name]):.2f}; rounds {rounds}); PostgreSQL backends"
                f" per round {backends[name]}"
            )
        print(f"runs not complete or out of order: {lost}")
        print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
