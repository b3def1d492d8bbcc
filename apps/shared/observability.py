"""Prometheus metrics and trace-aware logs, the same in every app.

Every HTTP app serves `/metrics` (Prometheus text format) beside Dapr's own sidecar metrics, and times each
request by route. The W3C `traceparent` header Dapr propagates (tracing is configured in the Dapr
Configuration) becomes the `trace_id` of every log line written while the request is handled, so an app's logs
join the sidecars' traces. The named metrics below are the product's own: stage latency per scenario, degraded
answers, events ingested and rejected, actor updates, active model versions, training runs.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METRICS_PATH = "/metrics"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_SECONDS = Histogram(
    "lemo_http_request_seconds",
    "HTTP requests handled by the app",
    ["route", "method", "status"],
    buckets=_LATENCY_BUCKETS,
)
STAGE_SECONDS = Histogram(
    "lemo_stage_seconds",
    "Read-path stage latency as the caller saw it",
    ["stage", "scenario"],
    buckets=_LATENCY_BUCKETS,
)
RECOMMENDATIONS = Counter(
    "lemo_recommendations_total", "Recommendation lists served", ["scenario", "variant", "mode", "degraded"]
)
DEGRADED = Counter("lemo_degraded_total", "Read-path stages that failed or fell back", ["stage"])
EVENTS = Counter("lemo_events_total", "Behavior events at intake", ["outcome"])
ACTOR_UPDATES = Counter("lemo_actor_updates_total", "Events applied to per-user actors", ["outcome"])
MODEL_VERSION = Gauge("lemo_model_version", "Model version loaded for serving", ["tenant", "kind"])
TRAINING_RUNS = Counter("lemo_training_runs_total", "Training runs started", ["trigger"])

trace_id: ContextVar[str | None] = ContextVar("trace_id", default=None)


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C traceparent header (`00-<trace id>-<span id>-<flags>`)."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


class TraceIdFilter(logging.Filter):
    """Adds the current request's trace id to log records that do not carry one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            current = trace_id.get()
            if current is not None:
                record.trace_id = current
        return True


class ObservabilityMiddleware:
    """Times requests by route template (not raw path: tenant and user ids would explode the label set) and
    binds the trace id for the request's logs. Pure ASGI, so streamed bodies pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == METRICS_PATH:
            await self._app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        token = trace_id.set(trace_id_of(headers.get(b"traceparent", b"").decode("latin-1")))
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            REQUEST_SECONDS.labels(route, scope["method"], str(status)).observe(time.perf_counter() - started)
            trace_id.reset(token)


def install_observability(app: FastAPI) -> None:
    app.add_middleware(ObservabilityMiddleware)

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
