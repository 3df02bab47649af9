"""What the OTLP export of request spans costs in-process: the SDK's encoder against
`assistantd.observability.otlp`'s, and one post to a local sink with the SDK's requests
session against the exporter's, alternated round by round (CPU time of this thread).

Spans are the app's request spans (`Tracing.start_request`/`end_request`, an in-memory
exporter). Prints µs per span to encode and µs per post (least and median of the rounds);
never asserts on time.

    PYTHONPATH=src:. .venv/bin/python bench/otlp_bench.py [--rounds 31] [--spans 512]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from assistantd.observability.otlp import WireSpanExporter, encode_spans
from assistantd.observability.tracing import make_tracing
from tests.conftest import make_settings
from tests.support.otlp_sink import otlp_http_sink


def request_spans(count: int) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    with tempfile.TemporaryDirectory() as data:
        tracing = make_tracing(make_settings(Path(data), "sqlite+aiosqlite://"), exporter)
        for i in range(count):
            request = tracing.start_request("GET", f"req_{i:032x}", None)
            assert request is not None
            tracing.end_request(request, "GET", "/v1/assistants/{assistant_id}", 200)
        tracing.shutdown()
    return list(exporter.get_finished_spans())


def cpu_us(work: Callable[[], object]) -> float:
    started = time.thread_time_ns()
    work()
    return (time.thread_time_ns() - started) / 1000


def show(label: str, values: list[float], per: int, unit: str) -> None:
    print(
        f"  {label:26} {min(values) / per:8.1f} µs per {unit} (least),"
        f" {statistics.median(values) / per:8.1f} (median)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--spans", type=int, default=512)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    spans = request_spans(args.spans)
    if ExportTraceServiceRequest.FromString(encode_spans(spans)) != sdk_encode(spans):
        raise SystemExit("the two encoders disagree")
    with otlp_http_sink() as (url, _):
        data = encode_spans(spans)
        sdk_post = OTLPSpanExporter(endpoint=url, session=requests.Session())
        ours_post = WireSpanExporter(endpoint=url)
        work = {
            "encode, SDK": lambda: sdk_encode(spans).SerializePartialToString(),
            "encode, assistantd": lambda: encode_spans(spans),
            "post, SDK session": lambda: sdk_post._client.export(data),
            "post, assistantd session": lambda: ours_post._client.export(data),
        }
        for job in work.values():
            job()  # warm-up (and the connections)
        samples: dict[str, list[float]] = {name: [] for name in work}
        for round_ in range(args.rounds):
            names = list(work) if round_ % 2 == 0 else list(work)[::-1]
            for name in names:
                samples[name].append(cpu_us(work[name]))
        print(f"{len(spans)} request spans, {len(data)} bytes encoded, {args.rounds} rounds")
        for name, values in samples.items():
            if name.startswith("encode"):
                show(name, values, len(spans), "span")
            else:
                show(name, values, 1, "post")
        sdk_post.shutdown()
        ours_post.shutdown()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
