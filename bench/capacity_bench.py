"""The capacity model's figures (docs/scaling.md): database writes per run, and concurrent
streaming runs one process holds in the many-nodes setup (PostgreSQL and Redis).

(1) Database writes per run: what one run costs the shared database. A real server (in this
process, on PostgreSQL when ASSISTANTD_TEST_DATABASE_URL names one, else SQLite) and the fake
model; every statement the server's engine sends is counted by SQLAlchemy's
`before_cursor_execute` event, and every commit by its `commit` event. For each kind of run the
counts are taken from the run's create to its terminal state (plus a moment for the write-behind
to flush), averaged over `--runs` runs:

  stream-20 / stream-400   a streamed run answering 20 or 400 tokens (do writes grow with tokens?)
  poll-400                 the same run, not streamed, polled by the SDK until it completes
  function                 a run that calls a function, then submit_tool_outputs, then answers

Reads are counted too (SELECT, with the SDK's polls): they load the pool, but only writes
contend.

(2) Streams per process: one `assistantd serve` process on PostgreSQL with the Redis broker
(ASSISTANTD_TEST_REDIS_URL, a key prefix of its own). First its server CPU per streamed delta
and per run (bench/stream_bench.py's `cpu_per_delta`: instant model, long runs minus 1-token
runs), which bounds streams per core; then, with the fake model in its own process at
50 tokens/s (300 ms to first token, 150 tokens, starts spread over 1 s), clients on raw httpx:
the largest level at which every stream is complete and in order with p99 TTFT under 1.2x the
direct call's (bench/stream_bench.py's `concurrent_level`).

Prints figures; never asserts.

    PYTHONPATH=src:. .venv/bin/python bench/capacity_bench.py [--runs 10] [--levels 25,50,100]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import openai
from sqlalchemy import event

from bench.stream_bench import KEY, concurrent_level, cpu_per_delta, direct, fake_process
from tests.conftest import KEY_A, make_settings
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.process import spawn_server
from tests.support.redis import drop_prefix, fresh_prefix
from tests.support.server import RunningServer, fresh_postgres_database, run_server

VERBS = ("INSERT", "UPDATE", "DELETE", "SELECT")
FUNCTION = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
}


class Counter:
    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()

    def statement(self, _conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
        self.counts[verb if verb in VERBS else "OTHER"] += 1

    def commit(self, _conn: Any) -> None:
        self.counts["COMMIT"] += 1

    def take(self) -> collections.Counter[str]:
        counts, self.counts = self.counts, collections.Counter()
        return counts


@contextmanager
def server(fake: FakeUpstream, data_dir: Path) -> Iterator[tuple[RunningServer, Counter, str]]:
    with ExitStack() as stack:
        base = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
        if base:
            url, backend = stack.enter_context(fresh_postgres_database(base)), "postgresql"
        else:
            url, backend = f"sqlite+aiosqlite:///{data_dir / 'bench.db'}", "sqlite"
        settings = make_settings(data_dir, url, upstream_base_url=fake.base_url)
        running = stack.enter_context(run_server(settings))
        engine = running.server.config.app.state.services.db.engine.sync_engine  # type: ignore[attr-defined]
        counter = Counter()
        event.listen(engine, "before_cursor_execute", counter.statement)
        event.listen(engine, "commit", counter.commit)
        yield running, counter, backend


def words(n: int) -> list[str]:
    return [f"w{i}" if i == 0 else f" w{i}" for i in range(n)]


def settle(client: openai.OpenAI, thread_id: str, run_id: str) -> None:
    """Wait until the run is terminal as stored, then a moment for the write-behind."""
    deadline = time.monotonic() + 60
    while client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status not in (
        "completed",
        "failed",
        "cancelled",
        "expired",
        "incomplete",
    ):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{run_id} did not finish")
        time.sleep(0.05)
    time.sleep(0.5)


COUNTER: Counter | None = None


def new_thread(client: openai.OpenAI) -> Any:
    """A thread with one user message; the count starts after it (only the run is counted)."""
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    if COUNTER is not None:
        COUNTER.take()
    return thread


def streamed(client: openai.OpenAI, fake: FakeUpstream, assistant: str, tokens: int) -> str:
    thread = new_thread(client)
    fake.script(Turn(tokens=words(tokens), text="".join(words(tokens))))
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant) as stream:
        stream.until_done()
        run = stream.current_run
    assert run is not None
    settle(client, thread.id, run.id)
    return thread.id


def polled(client: openai.OpenAI, fake: FakeUpstream, assistant: str, tokens: int) -> str:
    thread = new_thread(client)
    fake.script(Turn(tokens=words(tokens), text="".join(words(tokens))))
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant, poll_interval_ms=100
    )
    settle(client, thread.id, run.id)
    return thread.id


def function(client: openai.OpenAI, fake: FakeUpstream, assistant: str, _tokens: int) -> str:
    thread = new_thread(client)
    fake.script(Turn(tool_calls=[Call("lookup", "{}")]), Turn(text="It is " + "x " * 20))
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant, poll_interval_ms=100
    )
    assert run.required_action is not None, run.status
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "42"}],
        poll_interval_ms=100,
    )
    settle(client, thread.id, run.id)
    return thread.id


Kind = Callable[[openai.OpenAI, FakeUpstream, str, int], str]
KINDS: list[tuple[str, Kind, int]] = [
    ("stream-20", streamed, 20),
    ("stream-400", streamed, 400),
    ("poll-400", polled, 400),
    ("function", function, 0),
]


def writes_per_run(runs: int) -> tuple[str, dict[str, dict[str, float]]]:
    global COUNTER
    figures: dict[str, dict[str, float]] = {}
    with (
        FakeUpstream() as fake,
        tempfile.TemporaryDirectory() as tmp,
        server(fake, Path(tmp)) as (running, counter, backend),
        openai.OpenAI(base_url=running.api, api_key=KEY_A, max_retries=0) as client,
    ):
        COUNTER = counter
        assistant = client.beta.assistants.create(model="gpt-4o", tools=[FUNCTION]).id
        for name, kind, tokens in KINDS:
            kind(client, fake, assistant, tokens)  # warm-up: caches, prepared statements
            total: collections.Counter[str] = collections.Counter()
            for _ in range(runs):
                thread_id = kind(client, fake, assistant, tokens)  # counts from new_thread on
                total += counter.take()
                client.beta.threads.delete(thread_id)
            per_run = {key: total[key] / runs for key in (*VERBS, "OTHER", "COMMIT")}
            per_run["writes"] = sum(per_run[v] for v in ("INSERT", "UPDATE", "DELETE"))
            figures[name] = per_run
    return backend, figures


def streams_per_process(levels: list[int]) -> int:
    """The most concurrent streams one process held (see the module's doc); 0 if none."""
    base, redis_url = (os.environ.get(f"ASSISTANTD_TEST_{n}_URL") for n in ("DATABASE", "REDIS"))
    if not base or not redis_url:
        print("  (2) needs ASSISTANTD_TEST_DATABASE_URL and ASSISTANTD_TEST_REDIS_URL: skipped")
        return 0
    prefix, best = fresh_prefix(), 0
    with (
        tempfile.TemporaryDirectory() as data,
        fake_process() as upstream,
        fresh_postgres_database(base) as database,
    ):
        env = {
            "ASSISTANTD_DATA_DIR": data,
            "ASSISTANTD_DATABASE_URL": database,
            "ASSISTANTD_REDIS_URL": redis_url,
            "ASSISTANTD_REDIS_PREFIX": prefix,
            "ASSISTANTD_API_KEYS": KEY,
            "ASSISTANTD_UPSTREAM_BASE_URL": upstream,
        }
        try:
            with spawn_server(env, quiet=True, start_s=90) as (url, process):
                model = "bench-300-20-150"
                with openai.OpenAI(base_url=upstream, api_key=KEY, max_retries=0) as straight:
                    baseline = sorted(direct(straight, model)[0] for _ in range(5))[2]
                with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as client:
                    assistant = client.beta.assistants.create(model=model).id
                    # CPU is what a busy machine doesn't distort much: per delta, per run.
                    cpu_per_delta(client, process.pid, 5, 500)
                for n in levels:
                    level = concurrent_level(f"{url}/v1", assistant, n, 150, 1.0, baseline, False)
                    if not asyncio.run(level):
                        break
                    best = n
        finally:
            drop_prefix(redis_url, prefix)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--levels", default="25,50,100,150")
    parser.add_argument("--skip-streams", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # the SDK's beta namespace
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at start: {load}, cpus {os.cpu_count()}")
    backend, figures = writes_per_run(args.runs)
    print(f"(1) database: {backend}; {args.runs} runs of each kind; statements per run (mean)")
    print(f"  {'kind':<12}{'writes':>8}" + "".join(f"{v:>8}" for v in (*VERBS, "COMMIT")))
    for name, per_run in figures.items():
        print(
            f"  {name:<12}{per_run['writes']:>8.1f}"
            + "".join(f"{per_run[v]:>8.1f}" for v in (*VERBS, "COMMIT"))
        )
    if not args.skip_streams:
        print("(2) concurrent streaming runs, one process on PostgreSQL + Redis (raw httpx)")
        best = streams_per_process([int(x) for x in args.levels.split(",")])
        print(f"  held: {best} concurrent streaming runs")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
