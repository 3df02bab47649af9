"""Seeing inside: Prometheus metrics, OpenTelemetry traces, logs with request ids.

`Telemetry` bundles the app's metrics (None when `ASSISTANTD_METRICS=off`) and tracing (a
no-op unless enabled); `create_app` makes one and hands it to the parts it instruments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assistantd.observability.metrics import Metrics
from assistantd.observability.tracing import Tracing


@dataclass
class Telemetry:
    metrics: Metrics | None = None
    tracing: Tracing = field(default_factory=lambda: Tracing(None))


OFF = Telemetry()

__all__ = ["OFF", "Metrics", "Telemetry", "Tracing"]
