"""Actor calls over keep-alive connections to the sidecar.

The SDK's HTTP actor client (dapr.clients.http.client.DaprHttpClient) opens a new aiohttp session, hence a new TCP
connection to the sidecar, for every call: every actor invocation and every actor state save. On the event path,
opening those connections took a seventh of the profiles app's CPU (and the sidecar's share on top).
`PooledDaprHttpClient` sends the same requests through one long-lived session per event loop. Callers make proxies
with `actor_proxy`; an actor host registers its actors with `actor_client()` (for their state saves and reminders)
and `ACTOR_SERIALIZER` (for their messages and state).

The SDK's DefaultJSONSerializer decodes with a pure-Python scanner that turns every string looking like a date
("2024-01-02...") into a datetime and every one looking like a Dapr duration ("5m", "10s", "1h") into a timedelta:
an item called "5m" in an event or in a user's recent items broke the actor that held it, for good. It also took
ten times the C decoder's time. `PlainJSONSerializer` is plain JSON both ways, on both sides of the call; a method
whose interface names a pydantic model as its message (lemo/realtime/messages.py) gets it decoded from the bytes by
pydantic's core in one pass, and a model sent is encoded the same way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from dapr.actor import ActorId, ActorProxy, ActorProxyFactory
from dapr.clients._constants import DEFAULT_JSON_CONTENT_TYPE
from dapr.clients.http.client import DaprHttpClient
from dapr.clients.http.conf import CONTENT_TYPE_HEADER, DAPR_API_TOKEN_HEADER, DAPR_USER_AGENT, USER_AGENT_HEADER
from dapr.clients.http.dapr_actor_http_client import DaprActorHttpClient
from dapr.conf import settings
from dapr.serializers import Serializer
from pydantic import BaseModel
from pydantic_core import to_json

# Connections kept to the sidecar per event loop (the sidecar multiplexes them onto its own pool).
MAX_CONNECTIONS = 128


class PlainJSONSerializer(Serializer):
    """JSON in, JSON out: strings stay strings (see the module's docstring)."""

    def serialize(self, obj: object, custom_hook: Callable[[object], bytes] | None = None) -> bytes:
        if callable(custom_hook):
            obj = custom_hook(obj)
        if isinstance(obj, BaseModel):
            return to_json(obj)
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

    def deserialize(
        self,
        data: bytes,
        data_type: type | None = object,
        custom_hook: Callable[[Any], object] | None = None,
    ) -> Any:
        if not isinstance(data, str | bytes):
            raise ValueError("data must be str or bytes")
        # The runtime passes the interface's annotation of the message (a class only where the interface module
        # does not postpone its annotations: actors/user_profile.py).
        if data and isinstance(data_type, type) and issubclass(data_type, BaseModel) and not callable(custom_hook):
            return data_type.model_validate_json(data)
        obj = json.loads(data) if data else None
        return custom_hook(obj) if callable(custom_hook) else obj


ACTOR_SERIALIZER = PlainJSONSerializer()


class PooledDaprHttpClient(DaprHttpClient):
    """DaprHttpClient with one keep-alive aiohttp session per event loop instead of one session per call."""

    def __init__(self, serializer: Serializer, timeout: int) -> None:
        super().__init__(serializer, timeout)
        self._sessions: dict[int, tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession]] = {}

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        held = self._sessions.get(id(loop))
        if held is not None and held[0] is loop and not held[1].closed:
            return held[1]
        # Loops that ended (a worker thread's asyncio.run) leave their sessions behind: forget them.
        self._sessions = {k: (lp, s) for k, (lp, s) in self._sessions.items() if not lp.is_closed()}
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS), timeout=self._timeout)
        self._sessions[id(loop)] = (loop, session)
        return session

    async def send_bytes(  # type: ignore[override]
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: Mapping[str, bytes | str] | None = None,
        query_params: Mapping[str, Any] | None = None,
        timeout: int | None = None,  # noqa: ASYNC109 (the SDK's signature)
    ) -> tuple[bytes, aiohttp.ClientResponse]:
        sent: dict[str, Any] = {CONTENT_TYPE_HEADER: DEFAULT_JSON_CONTENT_TYPE, **(headers or {})}
        if settings.DAPR_API_TOKEN is not None:
            sent[DAPR_API_TOKEN_HEADER] = settings.DAPR_API_TOKEN
        if self._headers_callback is not None:
            sent.update(self._headers_callback())
        sent[USER_AGENT_HEADER] = DAPR_USER_AGENT
        request = {
            "method": method,
            "url": url,
            "data": data,
            "headers": sent,
            "sslcontext": False,
            "params": query_params,
            "timeout": aiohttp.ClientTimeout(total=timeout) if timeout else self._timeout,
        }
        response = await self.retry_policy.make_http_call(self._session(), request)
        if 200 <= response.status < 300:
            return await response.read(), response
        raise await self.convert_to_error(response)


def actor_client(timeout: int = settings.DAPR_HTTP_TIMEOUT_SECONDS) -> DaprActorHttpClient:
    """An actor client (invocations, state, reminders, timers) over kept-alive connections."""
    client = DaprActorHttpClient(ACTOR_SERIALIZER, timeout=timeout)
    client._client = PooledDaprHttpClient(ACTOR_SERIALIZER, timeout)
    return client


class _PooledProxyFactory(ActorProxyFactory):
    def __init__(self) -> None:
        super().__init__(message_serializer=ACTOR_SERIALIZER)
        self._dapr_client = actor_client()


class _LazyFactory(ActorProxyFactory):
    """Made on first use: the SDK's clients check the sidecar's health when constructed, at import time too early."""

    def __init__(self) -> None:  # the base class's clients are made by the real factory, on first use
        self._made: _PooledProxyFactory | None = None

    def create(self, *args: Any, **kwargs: Any) -> Any:
        if self._made is None:
            self._made = _PooledProxyFactory()
        return self._made.create(*args, **kwargs)


_PROXIES = _LazyFactory()


def actor_proxy(actor_type: str, actor_id: str, interface: type[Any]) -> Any:
    """`ActorProxy.create` over kept-alive connections; call the interface's methods on what it returns."""
    return ActorProxy.create(actor_type, ActorId(actor_id), interface, actor_proxy_factory=_PROXIES)
