"""lemo_client.LemoClient against httpx.MockTransport (our own client, a fake gateway): what goes on the wire,
answers read as typed results, the error envelope as typed exceptions, retries of only what is safe,
pagination, and NDJSON batches (chunked and streamed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lemo_client import (
    Conflict,
    LemoClient,
    NotFound,
    RateLimited,
    RetryPolicy,
    TransportFailure,
    Unavailable,
    ValidationFailed,
)
from lemo_client.request import NDJSON

FAST = RetryPolicy(attempts=3, initial_wait_s=0.0, max_wait_s=0.0)

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, **kwargs: Any) -> LemoClient:
    kwargs.setdefault("retry", FAST)
    return LemoClient("http://gateway", api_key="k1", transport=httpx.MockTransport(handler), **kwargs)


def _error(status: int, code: str, message: str = "m", **details: Any) -> httpx.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return httpx.Response(status, json={"error": error})


def test_recommend_sends_the_key_and_only_the_parameters_given() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"user_id": "u/1", "items": [{"item_id": "i1", "score": 0.5}]})

    with _client(handler) as lemo:
        answer = lemo.recommend("u/1", count=5, debug=True)
    assert answer["items"][0]["item_id"] == "i1"
    assert seen[0].headers["X-API-Key"] == "k1"
    assert seen[0].url.raw_path.split(b"?")[0] == b"/v1/users/u%2F1/recommendations"  # an id is one segment
    assert dict(seen[0].url.params) == {"count": "5", "debug": "true"}


def test_the_error_envelope_becomes_a_typed_exception() -> None:
    errors = {
        "/v1/items/gone": _error(404, "item_not_found", "no item gone"),
        "/v1/items/bad": _error(422, "invalid_request", "bad", errors=[{"loc": ["path", "item_id"]}]),
    }
    with _client(lambda r: errors[r.url.path]) as lemo:
        with pytest.raises(NotFound) as missing:
            lemo.get_item("gone")
        with pytest.raises(ValidationFailed) as invalid:
            lemo.get_item("bad")
    error = missing.value
    assert (error.status_code, error.code, error.message) == (404, "item_not_found", "no item gone")
    assert missing.value.path == "/v1/items/gone"
    assert invalid.value.details["errors"] == [{"loc": ["path", "item_id"]}]


def test_an_answer_without_the_envelope_still_raises_by_status() -> None:
    with _client(lambda r: httpx.Response(502, text="<html>bad gateway</html>"), retry=RetryPolicy(attempts=1)) as lemo:
        with pytest.raises(Unavailable) as failure:
            lemo.popular_items()
    assert failure.value.code == "http_502" and "bad gateway" in failure.value.message


def test_a_safe_call_is_retried_until_it_succeeds() -> None:
    answers = iter([_error(503, "unavailable"), _error(503, "unavailable"), httpx.Response(200, json={"items": []})])
    with _client(lambda r: next(answers)) as lemo:
        assert lemo.popular_items() == {"items": []}


def test_a_retried_event_keeps_the_event_id_that_makes_it_count_once() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        if len(bodies) == 1:
            return _error(503, "publish_failed")
        return httpx.Response(202, json={"event_id": bodies[-1]["event_id"], "status": "accepted"})

    with _client(handler) as lemo:
        lemo.track({"user_id": "u1", "item_id": "i1", "type": "click"})
    assert len(bodies) == 2 and bodies[0]["event_id"] and bodies[0] == bodies[1]


def test_a_call_that_is_not_idempotent_is_not_retried_after_the_gateway_saw_it() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return _error(503, "unavailable")

    with _client(handler) as lemo, pytest.raises(Unavailable):
        lemo.train_model({"kinds": ["popular"]})  # a second send would start a second run
    assert len(calls) == 1


def test_a_connection_never_made_is_retried_for_any_call_and_then_reported() -> None:
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    with _client(refuse) as lemo, pytest.raises(TransportFailure):
        lemo.train_model()
    assert len(calls) == FAST.attempts


def test_a_timeout_after_sending_is_retried_only_when_safe() -> None:
    calls = []

    def slow(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ReadTimeout("slow", request=request)

    with _client(slow) as lemo:
        with pytest.raises(TransportFailure):
            lemo.rollback_model("popular")
        with pytest.raises(TransportFailure):
            lemo.get_item("i1")
    assert calls == ["POST"] + ["GET"] * FAST.attempts


def test_rate_limited_calls_wait_as_retry_after_says() -> None:
    answers = iter([_error(429, "rate_limited"), httpx.Response(200, json={"items": []})])
    with _client(lambda r: next(answers)) as lemo:
        assert lemo.popular_items() == {"items": []}
    limited = RateLimited(429, "rate_limited", "slow down", retry_after_s=2.0)
    assert RetryPolicy(max_wait_s=8).wait_s(1, limited) == 2.0
    assert RetryPolicy(max_wait_s=1).wait_s(1, limited) == 1.0
    assert 0 <= RetryPolicy(initial_wait_s=0.5).wait_s(3, None) <= 2.0


def test_iter_items_follows_the_cursor_over_every_page() -> None:
    catalog = [{"item_id": f"i{n}"} for n in range(5)]
    asked: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        asked.append(params)
        start = next((n + 1 for n, i in enumerate(catalog) if i["item_id"] == params.get("after")), 0)
        page = catalog[start : start + int(params["limit"])]
        full = len(page) == int(params["limit"])
        return httpx.Response(200, json={"items": page, "next": page[-1]["item_id"] if full else None})

    with _client(handler) as lemo:
        items = list(lemo.iter_items(page_size=2, category="books"))
    assert items == catalog
    assert [a.get("after") for a in asked] == [None, "i1", "i3"]
    assert all(a["category"] == "books" for a in asked)


def test_upsert_items_sends_ndjson_chunks_and_counts_error_lines_over_all_rows() -> None:
    bodies: list[list[dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"] == NDJSON
        rows = [json.loads(line) for line in request.content.decode().splitlines()]
        bodies.append(rows)
        bad = [{"line": n + 1, "errors": []} for n, r in enumerate(rows) if "bad" in r]
        return httpx.Response(200, json={"accepted": len(rows) - len(bad), "rejected": len(bad), "errors": bad})

    rows: list[dict[str, Any]] = [
        {"item_id": "a"},
        {"item_id": "b"},
        {"item_id": "c", "bad": 1},
        {"item_id": "d"},
        {"item_id": "e"},
    ]
    with _client(handler) as lemo:
        result = lemo.upsert_items(iter(rows), chunk_rows=2)
    assert [len(b) for b in bodies] == [2, 2, 1]
    assert result == {"accepted": 4, "rejected": 1, "errors": [{"line": 3, "errors": []}]}


def test_stream_items_writes_one_body_as_the_rows_are_read_and_never_resends_it() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.read())
        return _error(503, "unavailable")

    read = []

    def rows() -> Any:
        for n in range(3):
            read.append(n)
            yield {"item_id": f"i{n}"}

    with _client(handler) as lemo, pytest.raises(Unavailable):
        lemo.stream_items(rows())
    assert len(calls) == 1 and calls[0].count(b"\n") == 3 and read == [0, 1, 2]


def test_ensure_tenant_makes_a_new_key_when_the_tenant_exists() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-Admin-Key"] == "admin"
        if request.url.path == "/v1/admin/tenants":
            return _error(409, "tenant_exists")
        return httpx.Response(201, json={"api_key": "fresh"})

    lemo = LemoClient("http://gateway", admin_key="admin", transport=httpx.MockTransport(handler), retry=FAST)
    assert lemo.ensure_tenant("acme") == "fresh" and lemo.api_key == "fresh"
    with pytest.raises(Conflict):
        lemo.create_tenant("acme")


def test_the_client_needs_only_httpx_and_tenacity() -> None:
    """What docs/client.md promises: callers of the API install neither the domain, the apps nor Dapr."""
    import ast
    import sys
    from pathlib import Path

    package = Path(__file__).resolve().parents[3] / "lemo_client"
    imported: set[str] = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"httpx", "tenacity", "lemo_client"}
