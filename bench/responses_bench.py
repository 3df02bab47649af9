"""Streamed responses and relayed chat completions through assistantd beside direct
chat-completions calls, in one run (A/B/C interleaved, ratios of the medians).

Uses the profile fake upstream of stream_bench (`bench-<ttft ms>-<itl ms>-<tokens>`) in its
own process and an assistantd process pointed at it, and measures at the client with the
official SDK the time to the first text token and the total time of:

  direct      `chat.completions.create(stream=True)` against the fake;
  relay       the same call through assistantd's `/v1/chat/completions`;
  responses   `responses.create(stream=True)` through assistantd (first `output_text.delta`).

Bounded loops; prints figures; never asserts on time.

    PYTHONPATH=src:. .venv/bin/python bench/responses_bench.py [--rounds 7]

With checkouts (`name=path`, e.g. a `git worktree` of the commit before a change), one server
per checkout on the same fake, all measured in turn round by round (a before/after on a busy
machine):

    PYTHONPATH=src:. .venv/bin/python bench/responses_bench.py before=/tmp/before after=.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import openai

from bench.stream_bench import KEY, direct, fake_process, p99, words
from tests.support.process import spawn_server

Measure = Callable[[openai.OpenAI, str], tuple[float, float, str]]


def responses(client: openai.OpenAI, model: str) -> tuple[float, float, str]:
    start = time.perf_counter()
    first = 0.0
    text = []
    for event in client.responses.create(model=model, input="go", stream=True):
        if event.type == "response.output_text.delta":
            first = first or time.perf_counter() - start
            text.append(event.delta)
    return first, time.perf_counter() - start, "".join(text)


def compare(clients: dict[str, tuple[openai.OpenAI, Measure]], model: str, rounds: int) -> None:
    expected = "".join(words(int(model.rsplit("-", 1)[1])))
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
    for _ in range(2):  # warm-up
        for client, measure in clients.values():
            measure(client, model)
    for _ in range(rounds):
        for name, (client, measure) in clients.items():
            ttft, total, text = measure(client, model)
            assert text == expected, f"{name}: lost or reordered delta"
            samples[name].append((ttft, total))
    med = statistics.median
    base_ttft = med(x[0] for x in samples["direct"])
    base_total = med(x[1] for x in samples["direct"])
    print(f"  {model}: {rounds} rounds")
    for name, values in samples.items():
        ttft, total = med(x[0] for x in values), med(x[1] for x in values)
        print(
            f"    {name:16s} TTFT p50 {ttft * 1000:8.2f} ms (ratio {ttft / base_ttft:.3f},"
            f" p99 {p99([x[0] for x in values]) * 1000:.2f} ms)"
            f"   total p50 {total * 1000:8.2f} ms (ratio {total / base_total:.3f})"
        )


@contextmanager
def _server(env: dict[str, str], root: Path | None) -> Iterator[str]:
    """A server of this tree, or of the checkout at `root`; its base URL."""
    if root is None:
        with spawn_server(env, quiet=True) as (url, _process):
            yield url
        return

    def command(port: int) -> list[str]:
        python_path = f"PYTHONPATH={root / 'src'}{os.pathsep}{root}"
        serve = ["-m", "assistantd", "serve", "--port", str(port), "--log-level", "warning"]
        return ["env", python_path, sys.executable, *serve]

    with spawn_server(env, quiet=True, command=command, cwd=root) as (url, _process):
        yield url


def main() -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("checkouts", nargs="*", help="name=path of a checkout, e.g. before=/tmp/b")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as data, fake_process() as upstream:
        env = {
            "ASSISTANTD_DATA_DIR": data,
            "ASSISTANTD_API_KEYS": KEY,
            "ASSISTANTD_UPSTREAM_BASE_URL": upstream,
        }
        with ExitStack() as stack:
            direct_client = openai.OpenAI(base_url=upstream, api_key=KEY, max_retries=0)
            clients: dict[str, tuple[openai.OpenAI, Measure]] = {"direct": (direct_client, direct)}
            for name, path in (c.split("=", 1) for c in args.checkouts or ["="]):
                served = {
                    **env,
                    "ASSISTANTD_DATA_DIR": stack.enter_context(tempfile.TemporaryDirectory()),
                }
                url = stack.enter_context(_server(served, Path(path).resolve() if path else None))
                client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
                prefix = f"{name} " if name else ""
                clients[f"{prefix}relay"] = (client, direct)
                clients[f"{prefix}responses"] = (client, responses)
            compare(clients, "bench-300-20-200", args.rounds)
            compare(clients, "bench-0-0-200", args.rounds * 3)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
