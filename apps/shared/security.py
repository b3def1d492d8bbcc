"""The app API token: every call daprd delivers into an app carries it, so an app refuses callers that bypass the
sidecar (see docs/security.md).

daprd reads APP_API_TOKEN from its environment and sets the `dapr-api-token` header (gRPC: metadata) on every
call into the app: invocation, pub/sub deliveries, bindings, actor calls, /dapr/config and /dapr/subscribe
(dapr 1.18.2 pkg/channel/http/http_channel.go constructRequest, pkg/channel/grpc/grpc_channel.go). It does not send
it on its app health probe, nor, for gRPC apps, on ListTopicSubscriptions and ListInputBindings, so those stay open.
The app reads the same APP_API_TOKEN; unset, the check is off (as it is in daprd).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

import grpc
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from apps.shared.errors import error_body

logger = logging.getLogger(__name__)

TOKEN_HEADER = "dapr-api-token"  # daprd's securityConsts.APITokenHeader, for both tokens
APP_TOKEN_ENV = "APP_API_TOKEN"
HEALTH_PATH = "/healthz"
# Open on every app: probes and Prometheus scrape the app port directly, not through daprd.
OPEN_PATHS = frozenset({HEALTH_PATH, "/metrics"})
# Paths daprd itself calls on an app (app config, subscriptions, actors, jobs) and apps/shared/subscriptions.py's
# pub/sub routes: the gateway guards only these, since its public API is called directly by users.
SIDECAR_CALLBACK_PREFIXES = ("/dapr/", "/actors/", "/job/", "/events/")
# gRPC AppCallback methods daprd calls without the token (its health probe and startup listings).
GRPC_OPEN_METHODS = frozenset(
    {
        "/dapr.proto.runtime.v1.AppCallbackHealthCheck/HealthCheck",
        "/dapr.proto.runtime.v1.AppCallback/ListTopicSubscriptions",
        "/dapr.proto.runtime.v1.AppCallback/ListInputBindings",
    }
)


def app_api_token() -> str | None:
    return os.environ.get(APP_TOKEN_ENV) or None


def token_matches(presented: str | bytes | None, expected: str) -> bool:
    if presented is None:
        return False
    if isinstance(presented, str):
        presented = presented.encode()
    return hmac.compare_digest(presented, expected.encode())


class AppTokenMiddleware:
    """401 with the error body for a guarded path whose request lacks the app token. Pure ASGI, so streamed
    bodies pass through untouched."""

    def __init__(self, app: ASGIApp, token: str, guarded: Callable[[str], bool]) -> None:
        self._app = app
        self._token = token
        self._guarded = guarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._guarded(scope["path"]):
            await self._app(scope, receive, send)
            return
        presented = next((v for k, v in scope["headers"] if k == TOKEN_HEADER.encode()), None)
        if token_matches(presented, self._token):
            await self._app(scope, receive, send)
            return
        code, message = (
            ("missing_app_token", "this app is reached through its Dapr sidecar only")
            if presented is None
            else ("invalid_app_token", "the app API token does not match")
        )
        await _send_json(send, 401, error_body(code, message))


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: Iterable[tuple[str, str]] = ()) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def require_app_token(app: FastAPI, only_prefixes: tuple[str, ...] | None = None) -> None:
    """Requires the app token on every path but /healthz and /metrics, or, with `only_prefixes`, on those paths
    only."""
    token = app_api_token()
    if token is None:
        logger.warning("%s is not set: calls into this app are not authenticated", APP_TOKEN_ENV)
        return

    def guarded(path: str) -> bool:
        if only_prefixes is not None:
            return path.startswith(only_prefixes)
        return path not in OPEN_PATHS

    app.add_middleware(AppTokenMiddleware, token=token, guarded=guarded)


class AppTokenInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """The gRPC counterpart for apps served by dapr-ext-grpc: UNAUTHENTICATED without the app token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None or details.method in GRPC_OPEN_METHODS:
            return handler
        presented = dict(details.invocation_metadata or ()).get(TOKEN_HEADER)
        if token_matches(presented, self._token):
            return handler
        return _denying(handler, "missing_app_token" if presented is None else "invalid_app_token")


def _denying(handler: Any, code: str) -> Any:
    """A handler of the same kind as `handler` that fails every call with UNAUTHENTICATED."""

    def deny(_: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, f"{code}: this app is reached through its Dapr sidecar only")

    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make = kinds[(handler.request_streaming, handler.response_streaming)]
    return make(
        deny, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
    )


def app_token_interceptors() -> list[grpc.ServerInterceptor]:
    token = app_api_token()
    if token is None:
        logger.warning("%s is not set: calls into this app are not authenticated", APP_TOKEN_ENV)
        return []
    return [AppTokenInterceptor(token)]
