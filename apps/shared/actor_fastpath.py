"""Actor method calls straight to the actor runtime, ahead of the app's middleware and routing.

Every event and every served list costs one actor turn, and each turn is a call from daprd into the hosting app
(`PUT /actors/<type>/<id>/method/<method>`). Through FastAPI that call crossed the whole stack every route gets
(error handlers, metrics, body limit, routing over every route, dependency solving) before dapr-ext-fastapi's
handler handed the body to `ActorRuntime.dispatch`: about 150 us of the app's CPU per call, measured in process
with a trivial actor, against about 50 us here. The answer is the handler's own: 200 with the method's bytes, 500
with the error's JSON. The app token is checked as `AppTokenMiddleware` does; reminders, timers, deactivation and
everything else go on to the app.
"""

from __future__ import annotations

import json
import logging

from dapr.actor.runtime.runtime import ActorRuntime
from dapr.clients.exceptions import ERROR_CODE_UNKNOWN, DaprInternalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apps.shared.security import TOKEN_HEADER, token_matches

logger = logging.getLogger(__name__)

_TOKEN = TOKEN_HEADER.encode()
_REENTRANCY = b"dapr-reentrancy-id"
_JSON = [(b"content-type", b"application/json")]


class ActorFastPath:
    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self._app = app
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "PUT" or not scope["path"].startswith("/actors/"):
            await self._app(scope, receive, send)
            return
        parts = scope["path"].split("/")  # "", "actors", type, id, "method", name
        if len(parts) != 6 or parts[4] != "method":
            await self._app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self._token is not None and not token_matches(headers.get(_TOKEN), self._token):
            await self._app(scope, receive, send)  # AppTokenMiddleware answers 401 with the error body
            return
        body = await _body(receive)
        reentrancy = headers.get(_REENTRANCY)
        try:
            result = await ActorRuntime.dispatch(
                parts[2], parts[3], parts[5], body, reentrancy.decode() if reentrancy else None
            )
        except DaprInternalError as exc:
            await _answer(send, 500, json.dumps(exc.as_json_safe_dict()).encode())
            return
        except Exception as exc:  # as the SDK's handler answers it
            logger.exception("actor method %s of %s/%s failed", parts[5], parts[2], parts[3])
            await _answer(send, 500, json.dumps({"message": repr(exc), "errorCode": ERROR_CODE_UNKNOWN}).encode())
            return
        await _answer(send, 200, result if isinstance(result, bytes) else json.dumps(result).encode())


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message: Message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
