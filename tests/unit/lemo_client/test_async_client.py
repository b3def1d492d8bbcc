"""lemo_client.AsyncLemoClient: the same operations as LemoClient (method for method, parameter for parameter),
sent through the same request layer, awaited; against httpx.MockTransport."""

from __future__ import annotations

import inspect
import json
from typing import Any

import httpx
import pytest

from lemo_client import AsyncLemoClient, LemoClient, NotFound, RetryPolicy

FAST = RetryPolicy(attempts=3, initial_wait_s=0.0, max_wait_s=0.0)


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if callable(member) and not name.startswith("_")
    }


def test_the_async_client_has_every_method_of_the_sync_one_with_the_same_parameters() -> None:
    sync, asynchronous = _public(LemoClient), _public(AsyncLemoClient)
    assert set(sync) - {"close"} == set(asynchronous) - {"aclose"}
    for name in set(sync) - {"close"}:
        assert list(sync[name].parameters) == list(asynchronous[name].parameters), name
        assert [p.default for p in sync[name].parameters.values()] == [
            p.default for p in asynchronous[name].parameters.values()
        ], name


async def test_async_calls_retry_paginate_and_raise_like_the_sync_ones() -> None:
    flaky = iter([True, False])
    pages = {None: {"users": [{"user_id": "a"}], "next": "a"}, "a": {"users": [{"user_id": "b"}], "next": None}}

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/users":
            return httpx.Response(200, json=pages[request.url.params.get("after")])
        if request.url.path == "/v1/popular":
            if next(flaky):
                return httpx.Response(503, json={"error": {"code": "unavailable", "message": "later"}})
            return httpx.Response(200, json={"items": [{"item_id": "i1", "score": 1.0}]})
        return httpx.Response(404, json={"error": {"code": "user_not_found", "message": "no user"}})

    async with AsyncLemoClient("http://gateway", api_key="k", transport=httpx.MockTransport(handler), retry=FAST) as c:
        assert (await c.popular_items())["items"][0]["item_id"] == "i1"
        assert [u["user_id"] async for u in c.iter_users(page_size=1)] == ["a", "b"]
        with pytest.raises(NotFound) as missing:
            await c.get_user("nobody")
    assert missing.value.code == "user_not_found"


async def test_async_streams_and_batches_send_ndjson() -> None:
    bodies: list[bytes] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(await request.aread())
        if request.url.path == "/v1/events/batch":
            events = json.loads(bodies[-1])["events"]
            results = [{"event_id": e["event_id"], "status": "accepted"} for e in events]
            return httpx.Response(200, json={"accepted": len(events), "rejected": 0, "results": results})
        lines = bodies[-1].count(b"\n")
        return httpx.Response(200, json={"accepted": lines, "rejected": 0, "errors": []})

    rows: list[dict[str, Any]] = [{"user_id": f"u{n}"} for n in range(3)]
    async with AsyncLemoClient("http://gateway", api_key="k", transport=httpx.MockTransport(handler)) as c:
        assert (await c.stream_users(iter(rows)))["accepted"] == 3
        assert (await c.upsert_users(rows, chunk_rows=2))["accepted"] == 3
        batch = await c.track_batch([{"user_id": "u0", "item_id": "i", "type": "view"}])
    assert len(bodies) == 4
    assert batch["results"][0]["event_id"]  # filled in by the client: its idempotency key
