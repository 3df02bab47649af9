"""Prometheus metrics (prometheus-client), one registry per app.

Counters and histograms are updated where things happen (the HTTP middleware, the run loop,
the upstream client, the code interpreter, ingestion, search); gauges of what is under way
(runs in flight, sandbox sessions and pool, ingestion queue) are read when /metrics is
scraped, so they cost nothing in between. With `ASSISTANTD_METRICS=off` no `Metrics` object
exists and every hook is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# Latency buckets (seconds): API calls are milliseconds, streams and sandbox calls seconds.
LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TTFT = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)
RATE = (1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000)
LAG = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
LAG_INTERVAL_S = 0.5
MAX_MODELS = 50
MAX_HTTP_SERIES = 2000


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        ns = "assistantd"
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            namespace=ns,
            registry=registry,
        )
        self.http_latency = Histogram(
            "http_request_duration_seconds",
            "Time from request to the end of the response (whole stream for SSE).",
            ["method", "route"],
            namespace=ns,
            buckets=LATENCY,
            registry=registry,
        )
        self.runs = Counter(
            "runs",
            "Runs entering each status (queued excepted).",
            ["status"],
            namespace=ns,
            registry=registry,
        )
        self.ttft = Histogram(
            "model_time_to_first_token_seconds",
            "From sending a chat request upstream to its first chunk.",
            ["model"],
            namespace=ns,
            buckets=TTFT,
            registry=registry,
        )
        self.tokens_per_second = Histogram(
            "model_tokens_per_second",
            "Completion tokens per second of a model call, after its first token.",
            ["model"],
            namespace=ns,
            buckets=RATE,
            registry=registry,
        )
        self.model_tokens = Counter(
            "model_tokens",
            "Tokens of model calls by model and kind (prompt, completion).",
            ["model", "kind"],
            namespace=ns,
            registry=registry,
        )
        self.upstream_errors = Counter(
            "upstream_errors",
            "Failed upstream attempts by kind (http_429, http_5xx, http_4xx, transport, stream).",
            ["kind"],
            namespace=ns,
            registry=registry,
        )
        self.upstream_retries = Counter(
            "upstream_retries",
            "Upstream attempts retried, by the kind of the failure.",
            ["kind"],
            namespace=ns,
            registry=registry,
        )
        self.sandbox_exec = Histogram(
            "sandbox_exec_duration_seconds",
            "Code interpreter calls, by how they ended.",
            ["status"],
            namespace=ns,
            buckets=LATENCY,
            registry=registry,
        )
        self.ingested_files = Counter(
            "ingestion_files",
            "Vector store files ingested, by outcome (completed, failed).",
            ["outcome"],
            namespace=ns,
            registry=registry,
        )
        self.ingested_bytes = Counter(
            "ingestion_bytes",
            "Bytes of files ingested into vector stores.",
            namespace=ns,
            registry=registry,
        )
        self.search_latency = Histogram(
            "search_duration_seconds",
            "Vector store searches, by source (api: the search endpoint, run: file_search).",
            ["source"],
            namespace=ns,
            buckets=LATENCY,
            registry=registry,
        )
        self.loop_lag = Histogram(
            "event_loop_lag_seconds",
            f"How late a {LAG_INTERVAL_S}s timer on the event loop fires.",
            namespace=ns,
            buckets=LAG,
            registry=registry,
        )
        self._models: set[str] = set()
        self._http_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._gauges = _Gauges()
        registry.register(self._gauges)

    def http_request(self, method: str, route: str, status: int, elapsed_s: float) -> None:
        """Count and time one request. The labelled children are kept, so the hot path skips
        prometheus-client's label lookup (a lock and validation per call)."""
        key = (method, route, status)
        children = self._http_children.get(key)
        if children is None:
            children = (
                self.http_requests.labels(method, route, str(status)),
                self.http_latency.labels(method, route),
            )
            if len(self._http_children) < MAX_HTTP_SERIES:
                self._http_children[key] = children
        children[0].inc()
        children[1].observe(elapsed_s)

    def model(self, name: Any) -> str:
        """The label for a model name. Names come from clients, so at most `MAX_MODELS`
        distinct ones get their own series; the rest share `other`."""
        label = str(name or "unknown")[:64]
        if label in self._models:
            return label
        if len(self._models) >= MAX_MODELS:
            return "other"
        self._models.add(label)
        return label

    def model_call(
        self, model: Any, ttft_s: float, streaming_s: float, prompt: int, completion: int
    ) -> None:
        """One finished model call: time to first token, tokens per second, token counts."""
        label = self.model(model)
        self.ttft.labels(label).observe(ttft_s)
        if completion > 1 and streaming_s > 0:
            self.tokens_per_second.labels(label).observe(completion / streaming_s)
        self.model_tokens.labels(label, "prompt").inc(prompt)
        self.model_tokens.labels(label, "completion").inc(completion)

    def gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        """A gauge read at scrape time (e.g. the scheduler's count of running runs)."""
        self._gauges.add(f"assistantd_{name}", doc, read)

    async def watch_loop_lag(self) -> None:
        """Runs until cancelled: measures how late the event loop wakes a timer."""
        while True:
            start = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL_S)
            self.loop_lag.observe(max(time.perf_counter() - start - LAG_INTERVAL_S, 0.0))


def upstream_error_kind(status: int | None, retryable: bool) -> str:
    if status is None:
        return "transport" if retryable else "stream"
    if status == 429:
        return "http_429"
    return "http_5xx" if status >= 500 else "http_4xx"


class _Gauges(Collector):
    def __init__(self) -> None:
        self._entries: list[tuple[str, str, Callable[[], float]]] = []

    def add(self, name: str, doc: str, read: Callable[[], float]) -> None:
        self._entries.append((name, doc, read))

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(name, doc) for name, doc, _ in self._entries]

    def collect(self) -> Iterable[Metric]:
        for name, doc, read in self._entries:
            family = GaugeMetricFamily(name, doc)
            with contextlib.suppress(Exception):  # a broken reader must not break the scrape
                family.add_metric([], float(read()))
            yield family
