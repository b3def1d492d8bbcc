"""The sidecar HTTP client against a local aiohttp server standing in for the sidecar's HTTP API: URLs joined to
the base, query values as Dapr expects them, the API token on every call, streamed bodies, and errors callers can
tell apart (no answer versus an answer they reject)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from apps.shared.sidecar import SidecarHttp, SidecarStatusError, SidecarUnreachable

TOKEN_HEADER = "dapr-api-token"


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    seen = {
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "token": request.headers.get(TOKEN_HEADER),
        "content_type": request.headers.get("content-type"),
        "body": body.decode(),
    }
    status = int(request.query.get("status", "200"))
    return web.json_response(seen, status=status)


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_calls_are_based_at_the_sidecar_and_carry_the_token(server: str) -> None:
    async with SidecarHttp(server, 5.0, {TOKEN_HEADER: "secret"}) as http:
        resp = await http.get("/v1.0/invoke/recall/method/popular/t1", params={"k": 10, "debug": True, "x": None})
        seen = resp.json()
    assert resp.status_code == 200
    assert seen["path"] == "/v1.0/invoke/recall/method/popular/t1"
    assert seen["query"] == {"k": "10", "debug": "true"}
    assert seen["token"] == "secret"


async def test_json_bytes_and_streamed_bodies_arrive_whole(server: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for n in range(3):
            yield f'{{"n": {n}}}\n'.encode()

    async with SidecarHttp(server, 5.0, {}) as http:
        as_json = (await http.post("/v1.0/state/s", json=[{"key": "a"}])).json()
        as_bytes = (await http.post("/p", content=b"raw", headers={"content-type": "text/plain"})).json()
        streamed = (await http.post("/p", content=chunks(), headers={"content-type": "application/x-ndjson"})).json()
    assert json.loads(as_json["body"]) == [{"key": "a"}] and as_json["content_type"] == "application/json"
    assert as_bytes["body"] == "raw"
    assert streamed["body"] == '{"n": 0}\n{"n": 1}\n{"n": 2}\n'


async def test_a_streamed_body_whose_source_fails_raises_the_sources_error(server: str) -> None:
    class TooLarge(Exception):
        pass

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"n": 0}\n'
        raise TooLarge

    async with SidecarHttp(server, 5.0, {}) as http:
        with pytest.raises(TooLarge):
            await http.post("/p", content=chunks(), headers={"content-type": "application/x-ndjson"})


async def test_an_error_answer_is_a_response_until_the_caller_rejects_it(server: str) -> None:
    async with SidecarHttp(server, 5.0, {}) as http:
        resp = await http.get("/x", params={"status": 503})
    assert resp.status_code == 503 and "path" in resp.text
    with pytest.raises(SidecarStatusError) as raised:
        resp.raise_for_status()
    assert raised.value.response is resp


async def test_no_sidecar_is_unreachable_not_a_status() -> None:
    async with SidecarHttp(f"http://127.0.0.1:{_free_port()}", 2.0, {}) as http:
        with pytest.raises(SidecarUnreachable):
            await http.get("/v1.0/healthz")


async def test_a_slow_sidecar_is_unreachable_after_the_timeout() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response()

    app = web.Application()
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with SidecarHttp(f"http://127.0.0.1:{port}", 0.2, {}) as http:
            with pytest.raises(SidecarUnreachable):
                await http.get("/slow")
    finally:
        await runner.cleanup()
