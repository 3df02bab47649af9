"""Streaming runs through assistantd beside direct chat-completions calls, in one run.

Starts a fake upstream process (tests/fakes/upstream.py; the model name picks the profile, e.g.
`bench-300-20-200` = 300 ms to first token, 20 ms per token, 200 tokens) and an assistantd
process pointed at it (SQLite in a temp dir, or ASSISTANTD_DATABASE_URL), then measures at the
client with the official SDK:

  (a) time to first token (TTFT) and total time, assistantd (`threads.create_and_run(stream=True)`)
      vs direct (`chat.completions.create(stream=True)`), A/B interleaved, as ratios of the
      medians, for the realistic profile and an instant one (added ms to first token);
  (b) server CPU per streamed delta, from /proc/<pid>/stat before and after (marginal: long
      runs minus 1-token runs);
  (c) the largest number of concurrent streaming runs at 50 tokens/s each with p99 TTFT ratio
      under 1.2 and no lost or reordered delta (every text is sequence-checked).

Bounded loops; prints figures; never asserts on time. The load average is printed, and the CPU
of the server, of the fake and of this client (the load generator) for (b) and (c): they share
the machine. `--postgres` runs the server on a fresh database next to
ASSISTANTD_TEST_DATABASE_URL (else SQLite, or ASSISTANTD_DATABASE_URL as given).

    PYTHONPATH=src:. .venv/bin/python bench/stream_bench.py [--rounds 7] [--levels 50,100,150,200]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

import httpx
import openai
import orjson

from bench.lean_load import fake_script_process
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.process import spawn_server

KEY = "sk-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def words(n: int) -> list[str]:
    return [f"t{i}" if i == 0 else f" t{i}" for i in range(n)]


class ProfileUpstream(FakeUpstream):
    """Answers by the model name: `bench-<ttft ms>-<itl ms>-<tokens>`."""

    def _next(self, body: dict[str, Any]) -> Turn:
        _, ttft, itl, n = str(body["model"]).split("-")
        tokens = words(int(n))
        return Turn(
            text="".join(tokens), tokens=tokens, ttft_s=int(ttft) / 1000, itl_s=int(itl) / 1000
        )


def fake_main() -> None:
    with ProfileUpstream() as fake:
        print(fake.port, flush=True)
        sys.stdin.read()  # until the parent closes our stdin


@contextmanager
def fake_process() -> Iterator[str]:
    with fake_process_pid() as (url, _pid):
        yield url


def fake_process_pid() -> AbstractContextManager[tuple[str, int]]:
    """The fake upstream in a process of its own: (base url, pid)."""
    return fake_script_process(__file__)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def p99(values: list[float]) -> float:
    return percentile(values, 0.99)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


class CPU:
    """CPU seconds of the server, the fake and this client between `start()` and `report()`."""

    def __init__(self, server: int, fake: int) -> None:
        self.pids = {"server": server, "fake": fake}
        self.start()

    def _now(self) -> dict[str, float]:
        own = os.times()
        return {
            **{name: cpu_seconds(pid) for name, pid in self.pids.items()},
            "client": own.user + own.system,
        }

    def start(self) -> None:
        self._started = self._now()
        self._wall = time.perf_counter()

    def report(self) -> str:
        now, wall = self._now(), time.perf_counter() - self._wall
        used = {name: now[name] - self._started[name] for name in now}
        return f"CPU over {wall:.1f} s: " + ", ".join(
            f"{name} {seconds:.2f} s ({100 * seconds / wall:.0f}%)"
            for name, seconds in used.items()
        )


def delta_text(event: Any) -> str:
    """The text of a `thread.message.delta` event (one text part per delta here)."""
    return str(event.data.delta.content[0].text.value)


# --- one stream each way -------------------------------------------------------------------------


def direct(client: openai.OpenAI, model: str) -> tuple[float, float, str]:
    start = time.perf_counter()
    first = 0.0
    text = []
    for chunk in client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "go"}], stream=True
    ):
        piece = chunk.choices[0].delta.content if chunk.choices else None
        if piece:
            first = first or time.perf_counter() - start
            text.append(piece)
    return first, time.perf_counter() - start, "".join(text)


def through(client: openai.OpenAI, assistant_id: str) -> tuple[float, float, str]:
    start = time.perf_counter()
    first = 0.0
    text = []
    stream = client.beta.threads.create_and_run(
        assistant_id=assistant_id,
        thread={"messages": [{"role": "user", "content": "go"}]},
        stream=True,
    )
    for event in stream:
        if event.event == "thread.message.delta":
            first = first or time.perf_counter() - start
            text.append(delta_text(event))
    return first, time.perf_counter() - start, "".join(text)


def ab(
    direct_client: openai.OpenAI, client: openai.OpenAI, model: str, rounds: int, per_round: int
) -> None:
    assistant = client.beta.assistants.create(model=model)
    expected = "".join(words(int(model.rsplit("-", 1)[1])))
    a: list[tuple[float, float]] = []
    b: list[tuple[float, float]] = []
    for _ in range(2):  # warm-up
        direct(direct_client, model), through(client, assistant.id)
    for _ in range(rounds):
        for _ in range(per_round):
            ttft, total, text = direct(direct_client, model)
            assert text == expected
            a.append((ttft, total))
            ttft, total, text = through(client, assistant.id)
            assert text == expected, "lost or reordered delta"
            b.append((ttft, total))
    med = statistics.median
    a_ttft, b_ttft = med(x[0] for x in a), med(x[0] for x in b)
    a_tot, b_tot = med(x[1] for x in a), med(x[1] for x in b)
    print(
        f"  {model}: {len(a)} A/B pairs\n"
        f"    TTFT  direct p50 {a_ttft * 1000:8.2f} ms   assistantd p50 {b_ttft * 1000:8.2f} ms"
        f"   ratio {b_ttft / a_ttft:.3f}   added {1000 * (b_ttft - a_ttft):+.2f} ms"
        f"   (p99 {p99([x[0] for x in b]) * 1000:.2f} ms vs {p99([x[0] for x in a]) * 1000:.2f})\n"
        f"    total direct p50 {a_tot * 1000:8.2f} ms   assistantd p50 {b_tot * 1000:8.2f} ms"
        f"   ratio {b_tot / a_tot:.3f}   added {1000 * (b_tot - a_tot):+.2f} ms"
    )


def cpu_per_delta(client: openai.OpenAI, pid: int, runs: int, tokens: int) -> None:
    long_model, short_model = f"bench-0-0-{tokens}", "bench-0-0-1"
    costs: dict[str, list[float]] = {}
    for model in (short_model, long_model, short_model, long_model):
        assistant = client.beta.assistants.create(model=model)
        through(client, assistant.id)  # warm-up
        before = cpu_seconds(pid)
        for _ in range(runs):
            through(client, assistant.id)
        costs.setdefault(model, []).append(cpu_seconds(pid) - before)
    long_cpu, short_cpu = min(costs[long_model]), min(costs[short_model])
    marginal = (long_cpu - short_cpu) / (runs * (tokens - 1))
    print(
        f"  {runs} runs x {tokens} deltas: {long_cpu:.2f} s CPU"
        f" ({1e6 * long_cpu / (runs * tokens):.1f} µs per delta gross);"
        f" {runs} 1-token runs: {short_cpu:.2f} s ({1000 * short_cpu / runs:.1f} ms"
        f" per run)\n  marginal server CPU per streamed delta: {1e6 * marginal:.1f} µs"
    )


# --- concurrency ---------------------------------------------------------------------------------


async def concurrent_level(
    api: str,
    assistant_id: str,
    n: int,
    tokens: int,
    spread_s: float,
    baseline: float,
    sdk: bool = True,
) -> bool:
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    http = httpx.AsyncClient(limits=limits, timeout=120)
    sdk_http: Any = http  # the SDK types its own httpx fork; a plain httpx client works
    client = openai.AsyncOpenAI(base_url=api, api_key=KEY, http_client=sdk_http, max_retries=0)
    expected = words(tokens)

    async def one_raw(delay: float) -> tuple[float, bool, str | None]:
        """The same stream with raw httpx and no per-event models (the client's own cost out)."""
        await asyncio.sleep(delay)
        start = time.perf_counter()
        first = 0.0
        got: list[str] = []
        body = {
            "assistant_id": assistant_id,
            "thread": {"messages": [{"role": "user", "content": "go"}]},
            "stream": True,
        }
        headers = {"Authorization": f"Bearer {KEY}"}
        try:
            async with http.stream("POST", f"{api}/threads/runs", json=body, headers=headers) as r:
                delta = False
                async for line in r.aiter_lines():
                    if line.startswith("event:"):
                        delta = line == "event: thread.message.delta"
                    elif delta and line.startswith("data:"):
                        first = first or time.perf_counter() - start
                        got.append(orjson.loads(line[5:])["delta"]["content"][0]["text"]["value"])
        except Exception as error:
            return 0.0, False, repr(error)
        return first, got == expected, None

    async def one(delay: float) -> tuple[float, bool, str | None]:
        await asyncio.sleep(delay)
        start = time.perf_counter()
        first = 0.0
        got: list[str] = []
        status = None
        try:
            stream = await client.beta.threads.create_and_run(
                assistant_id=assistant_id,
                thread={"messages": [{"role": "user", "content": "go"}]},
                stream=True,
            )
            async for event in stream:
                if event.event == "thread.message.delta":
                    first = first or time.perf_counter() - start
                    got.append(delta_text(event))
                elif event.event.startswith("thread.run.") and event.event.count(".") == 2:
                    status = event.data.status  # type: ignore[union-attr]
        except Exception as error:
            return 0.0, False, repr(error)
        return first, got == expected, status

    started = time.perf_counter()
    task = one if sdk else one_raw
    results = await asyncio.gather(*(task(spread_s * i / n) for i in range(n)))
    wall = time.perf_counter() - started
    await client.close()
    ttfts = sorted(r[0] for r in results if r[1])
    ok = sum(1 for r in results if r[1])
    bad = [r[2] for r in results if not r[1]][:3]
    p50 = ttfts[len(ttfts) // 2] if ttfts else float("nan")
    p99 = percentile(ttfts, 0.99) if ttfts else float("nan")
    ratio = p99 / baseline
    passed = ok == n and ratio < 1.2
    print(
        f"  {'sdk' if sdk else 'raw'} {n:4d} concurrent: {ok}/{n} complete and in order;"
        f" TTFT p50 {p50 * 1000:.0f} ms,"
        f" p99 {p99 * 1000:.0f} ms, p99 ratio {ratio:.2f}; {n * tokens / wall:.0f} deltas/s over"
        f" {wall:.1f} s; load {os.getloadavg()[0]:.2f} {'PASS' if passed else 'FAIL'}"
        + (f" (e.g. {bad})" if bad else "")
    )
    return passed


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=3)
    parser.add_argument("--cpu-runs", type=int, default=10)
    parser.add_argument("--cpu-tokens", type=int, default=1000)
    parser.add_argument("--levels", default="25,50,100,150,200")
    parser.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database")
    parser.add_argument("--fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake:
        return fake_main()
    print(
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())},"
        f" cpus {os.cpu_count()}"
    )
    with ExitStack() as stack:
        data = stack.enter_context(tempfile.TemporaryDirectory())
        upstream, fake_pid = stack.enter_context(fake_process_pid())
        env = {
            "ASSISTANTD_DATA_DIR": data,
            "ASSISTANTD_API_KEYS": KEY,
            "ASSISTANTD_UPSTREAM_BASE_URL": upstream,
        }
        if args.postgres:
            from tests.support.server import fresh_postgres_database

            base = os.environ["ASSISTANTD_TEST_DATABASE_URL"]
            env["ASSISTANTD_DATABASE_URL"] = stack.enter_context(fresh_postgres_database(base))
        database = env.get("ASSISTANTD_DATABASE_URL", os.environ.get("ASSISTANTD_DATABASE_URL"))
        print(f"database: {'postgresql' if database else 'sqlite'}")
        url, process = stack.enter_context(spawn_server(env, quiet=True))
        api = f"{url}/v1"
        direct_client = openai.OpenAI(base_url=upstream, api_key=KEY, max_retries=0)
        client = openai.OpenAI(base_url=api, api_key=KEY, max_retries=0)
        print("(a) TTFT and total time, assistantd vs direct, interleaved")
        ab(direct_client, client, "bench-300-20-200", args.rounds, 1)
        ab(direct_client, client, "bench-0-0-200", args.rounds, args.per_round)
        print("(b) server CPU per streamed delta (instant upstream)")
        cpu = CPU(process.pid, fake_pid)
        cpu_per_delta(client, process.pid, args.cpu_runs, args.cpu_tokens)
        print(f"  {cpu.report()}")
        print(
            "(c) concurrent streaming runs at 50 tokens/s"
            " (300 ms TTFT, 150 tokens, starts over 1 s)"
        )
        model = "bench-300-20-150"
        baseline = statistics.median(direct(direct_client, model)[0] for _ in range(5))
        assistant = client.beta.assistants.create(model=model)
        for sdk in (True, False):
            best = 0
            for n in (int(x) for x in args.levels.split(",")):
                level = concurrent_level(api, assistant.id, n, 150, 1.0, baseline, sdk)
                cpu.start()
                passed = asyncio.run(level)
                print(f"    {cpu.report()}")
                if not passed:
                    break
                best = n
            print(
                f"  held ({'official SDK' if sdk else 'raw httpx'} client): {best} concurrent"
                f" streaming runs (baseline direct TTFT {baseline * 1000:.0f} ms)"
            )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
