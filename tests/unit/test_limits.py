"""The gateway's edge limits (apps/shared/limits.py): token buckets on a fake clock, and both middlewares on a tiny
app, answering with the one error shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.types import Scope

from apps.shared.errors import install_error_handlers
from apps.shared.limits import BodySizeLimit, RateLimit, TokenBuckets, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_burst_then_waits_for_the_refill() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate_per_s=2.0, burst=3, clock=clock)
    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k") == pytest.approx(0.5)  # one token at 2/s
    clock.now += 0.25
    assert buckets.take("k") == pytest.approx(0.25)  # half a token back; refused takes cost nothing
    clock.now += 0.25
    assert buckets.take("k") == 0.0
    assert buckets.take("k") == pytest.approx(0.5)


def test_refill_stops_at_the_burst() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate_per_s=10.0, burst=2, clock=clock)
    buckets.take("k")
    clock.now += 3600
    assert [buckets.take("k") > 0 for _ in range(3)] == [False, False, True]


def test_keys_do_not_share_a_bucket() -> None:
    buckets = TokenBuckets(rate_per_s=1.0, burst=1, clock=Clock())
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0


def test_the_least_recently_used_key_is_dropped_beyond_max_keys() -> None:
    buckets = TokenBuckets(rate_per_s=1.0, burst=1, max_keys=2, clock=Clock())
    buckets.take("a")
    buckets.take("b")
    buckets.take("a")  # a is now the most recent
    buckets.take("c")  # drops b
    assert len(buckets) == 2
    assert buckets.take("a") > 0  # a kept its empty bucket
    assert buckets.take("b") == 0.0  # b starts again full


@pytest.mark.parametrize("rate, burst", [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_nonsense_settings_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBuckets(rate, burst)


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after_header(w) for w in (0.01, 1.0, 1.2)] == ["1", "1", "2"]


# --- the middlewares ------------------------------------------------------------------------------------------------


class Body(BaseModel):
    text: str


def _app(max_bytes: int = 100, rate_per_s: float = 1.0, burst: int = 2) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    async def identify(scope: Scope) -> str | None:
        return next((v.decode() for k, v in scope["headers"] if k == b"x-api-key"), None)

    app.add_middleware(BodySizeLimit, max_bytes=max_bytes)
    app.add_middleware(RateLimit, buckets=TokenBuckets(rate_per_s, burst), identify=identify)

    @app.post("/json")
    async def json_body(body: Body) -> dict[str, int]:
        return {"length": len(body.text)}

    @app.post("/stream")
    async def stream(request: Request) -> dict[str, int]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
        return {"received": received}

    return app


def _chunks(total: int, size: int = 16) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def test_a_body_within_the_limit_passes() -> None:
    client = TestClient(_app())
    assert client.post("/json", json={"text": "hi"}).json() == {"length": 2}
    assert client.post("/stream", content=_chunks(100)).json() == {"received": 100}


def test_a_declared_length_over_the_limit_is_413_with_the_error_body() -> None:
    resp = TestClient(_app()).post("/json", json={"text": "x" * 200})
    assert resp.status_code == 413
    assert resp.json() == {"error": {"code": "body_too_large", "message": "the request body exceeds 100 bytes",
                                     "details": {"limit": 100}}}  # fmt: skip


def test_a_streamed_body_is_counted_as_it_arrives() -> None:
    client = TestClient(_app())
    for path in ("/stream", "/json"):  # no Content-Length: chunked
        resp = client.post(path, content=_chunks(101), headers={"content-type": "application/json"})
        assert resp.status_code == 413, path
        assert resp.json()["error"]["code"] == "body_too_large"


def test_over_the_rate_a_key_gets_429_with_retry_after_and_others_do_not() -> None:
    client = TestClient(_app(rate_per_s=0.5, burst=2))
    mine, theirs = {"x-api-key": "k1"}, {"x-api-key": "k2"}
    assert [client.post("/json", json={"text": ""}, headers=mine).status_code for _ in range(2)] == [200, 200]
    limited = client.post("/json", json={"text": ""}, headers=mine)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.json()["error"]["details"]["retry_after_s"] == pytest.approx(2.0, abs=0.1)
    assert client.post("/json", json={"text": ""}, headers=theirs).status_code == 200
    # Without a key there is no bucket to draw on: authentication refuses such calls, not the limiter.
    assert all(client.post("/json", json={"text": ""}).status_code == 200 for _ in range(5))
