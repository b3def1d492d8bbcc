"""Trace ids in logs and the metrics endpoint, without a sidecar."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.testclient import TestClient

from apps.shared.observability import TraceIdFilter, install_observability, trace_id, trace_id_of

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_trace_id_comes_from_the_traceparent_header() -> None:
    assert trace_id_of(TRACEPARENT) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_of("garbage") is None
    assert trace_id_of(None) is None


def test_log_records_carry_the_request_trace_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    token = trace_id.set("abc")
    try:
        assert TraceIdFilter().filter(record) and getattr(record, "trace_id", None) == "abc"
    finally:
        trace_id.reset(token)
    untraced = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    assert TraceIdFilter().filter(untraced) and not hasattr(untraced, "trace_id")


def test_requests_are_timed_by_route_template_and_bind_the_trace_id() -> None:
    app = FastAPI()
    install_observability(app)
    seen: list[str | None] = []

    @app.get("/users/{user_id}")
    async def user(user_id: str) -> dict[str, str]:
        seen.append(trace_id.get())
        return {"user_id": user_id}

    client = TestClient(app)
    assert client.get("/users/u-1", headers={"traceparent": TRACEPARENT}).status_code == 200
    assert seen == ["4bf92f3577b34da6a3ce929d0e0e4736"]
    body = client.get("/metrics").text
    assert 'lemo_http_request_seconds_count{method="GET",route="/users/{user_id}",status="200"}' in body
    assert "u-1" not in body  # raw ids never become labels
