"""Actor method calls taken ahead of the app's stack (apps/shared/actor_fastpath.py) answer exactly as
dapr-ext-fastapi's route does, and everything else still goes through the app (the SDK's actor runtime runs in
process; no sidecar is needed to dispatch a call)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from dapr.actor import Actor, ActorInterface, actormethod
from dapr.actor.runtime.runtime import ActorRuntime
from dapr.clients.health import DaprHealth
from dapr.ext.fastapi import DaprActor
from fastapi import FastAPI

from apps.shared.actor_fastpath import ActorFastPath
from apps.shared.app import create_app
from apps.shared.settings import LemoSettings

TOKEN = "app-token"


class EchoInterface(ActorInterface):
    @actormethod(name="Echo")
    async def echo(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Answers with the actor's id and the payload."""
        raise NotImplementedError

    @actormethod(name="Fail")
    async def fail(self, payload: dict[str, Any]) -> None:
        """Always raises."""


class EchoActor(Actor, EchoInterface):
    async def echo(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {"actor": self.id.id, "got": payload}

    async def fail(self, payload: dict[str, Any]) -> None:
        raise ValueError("no")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture
def apps(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FastAPI, FastAPI]]:
    """The same actor host twice: as the SDK wires it, and with the fast path in front."""
    monkeypatch.setenv("APP_API_TOKEN", TOKEN)
    monkeypatch.setattr(DaprHealth, "wait_for_sidecar", staticmethod(lambda: None))
    plain = create_app("host", LemoSettings(), [], _lifespan)
    DaprActor(plain)
    fast = create_app("host", LemoSettings(), [], _lifespan)
    DaprActor(fast)
    fast.add_middleware(ActorFastPath, token=TOKEN)
    yield plain, fast


async def _put(app: FastAPI, path: str, body: bytes, token: str | None = TOKEN) -> httpx.Response:
    headers = {"dapr-api-token": token} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        return await client.put(path, content=body, headers=headers)


async def test_a_method_call_answers_as_the_sdk_route_does(apps: tuple[FastAPI, FastAPI]) -> None:
    await ActorRuntime.register_actor(EchoActor)
    plain, fast = apps
    for path, body in (("/actors/EchoActor/a1/method/Echo", b'{"n": 1}'), ("/actors/EchoActor/a2/method/Fail", b"{}")):
        expected, got = await _put(plain, path, body), await _put(fast, path, body)
        assert (got.status_code, got.json()) == (expected.status_code, expected.json())
    ok = await _put(fast, "/actors/EchoActor/a1/method/Echo", b'{"n": 1}')
    assert ok.status_code == 200 and ok.json() == {"actor": "a1", "got": {"n": 1}}
    failed = await _put(fast, "/actors/EchoActor/a2/method/Fail", b"{}")
    assert failed.status_code == 500 and failed.json()["errorCode"] == "UNKNOWN"


async def test_calls_without_the_app_token_or_off_the_method_path_go_through_the_app(
    apps: tuple[FastAPI, FastAPI],
) -> None:
    await ActorRuntime.register_actor(EchoActor)
    _, fast = apps
    refused = await _put(fast, "/actors/EchoActor/a1/method/Echo", b"{}", token=None)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "missing_app_token"
    wrong = await _put(fast, "/actors/EchoActor/a1/method/Echo", b"{}", token="other")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_app_token"
    # A reminder's path is longer: the SDK's own route takes it (and finds no such reminder method here).
    reminder = await _put(fast, "/actors/EchoActor/a1/method/remind/tick", b"{}")
    assert reminder.status_code == 500
