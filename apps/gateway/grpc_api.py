"""The public gRPC API (proto/lemoproto/v1/api.proto): a thin translation layer. Each method checks the tenant's
key (the `x-api-key` metadata) as the HTTP API does, turns its message into the arguments of the operation's one
handler in apps/gateway/service.py (which the HTTP route calls too), and turns the answer back into a message;
HTTP error codes map onto gRPC status codes. tests/unit/apps/test_grpc_parity.py keeps the two APIs twins."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel, ValidationError

from apps.gateway.keys import KeyResolver, Principal
from apps.gateway.recommender import Mode
from apps.gateway.service import PublicApi
from apps.gateway.settings import GatewaySettings
from apps.shared.errors import ApiError
from apps.shared.limits import TokenBuckets, retry_after_header
from apps.shared.sidecar import SidecarResponse
from lemo.catalog import ItemFields
from lemo.events import EventBody
from lemo.tenancy import Scope, split_key
from lemo.users import BatchGet, UserFields
from lemoproto.v1 import api_pb2, api_pb2_grpc

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ALREADY_EXISTS,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
}


def _to_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _from_dict(data: dict[str, Any], message: Message) -> Any:
    return json_format.ParseDict(data, message, ignore_unknown_fields=True)


async def _done(context: grpc.aio.ServicerContext, operation: Awaitable[T]) -> T:
    """The operation's answer; an ApiError it raises aborts with the matching status (UNAVAILABLE by default)."""
    try:
        return await operation
    except ApiError as exc:
        await context.abort(_CODES.get(exc.status_code, grpc.StatusCode.UNAVAILABLE), f"{exc.code}: {exc.message}")
        raise  # abort raises; this line only tells the type checker


async def _body(context: grpc.aio.ServicerContext, operation: Awaitable[SidecarResponse]) -> dict[str, Any]:
    """The JSON body of a relayed app's answer; its error (the one error shape) aborts with the matching status."""
    resp = await _done(context, operation)
    if resp.status_code >= 400:
        error = (resp.json().get("error") or {}) if resp.content else {}
        code = _CODES.get(resp.status_code, grpc.StatusCode.INTERNAL)
        await context.abort(code, f"{error.get('code', resp.status_code)}: {error.get('message', '')}")
    return dict(resp.json()) if resp.content else {}


class LemoService(api_pb2_grpc.LemoServicer):
    def __init__(self, keys: KeyResolver, api: PublicApi, buckets: TokenBuckets | None = None) -> None:
        self._keys = keys
        self._api = api
        self._buckets = buckets  # the HTTP API's per-key rate limit buckets; None: no rate limit

    async def _who(self, context: grpc.aio.ServicerContext, scope: Scope) -> Principal:
        key = dict(context.invocation_metadata() or ()).get("x-api-key")
        if not key:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing_api_key: send the key in x-api-key")
        principal = await self._keys.resolve(str(key))
        if principal is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid_api_key: unknown or revoked API key")
        assert principal is not None
        if scope not in principal.scopes:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"insufficient_scope: this key lacks {scope}")
        parts = split_key(str(key))
        wait = self._buckets.take(parts[0]) if self._buckets is not None and parts is not None else 0.0
        if wait > 0:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"rate_limited: retry after {wait:.3f}s",
                trailing_metadata=(("retry-after", retry_after_header(wait)),),
            )
        return principal

    async def _valid(self, context: grpc.aio.ServicerContext, model: type[M], data: Any) -> M:
        """`data` as `model`, the HTTP API's schema; INVALID_ARGUMENT naming the first bad field otherwise."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"invalid_request: {'.'.join(map(str, first['loc']))}: {first['msg']}"
            )
            raise  # abort raises; this line only tells the type checker

    # Items

    async def GetItem(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        body = await _body(context, self._api.get_item(who.tenant_id, request.item_id))
        return _from_dict(body, api_pb2.Item())

    async def UpsertItem(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.WRITE)
        fields = _to_dict(request.item)
        item_id = fields.pop("item_id", "")
        valid = await self._valid(context, ItemFields, fields)
        body = await _body(context, self._api.upsert_item(who.tenant_id, item_id, valid))
        return _from_dict(body, api_pb2.Item())

    async def DeleteItem(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.WRITE)
        await _body(context, self._api.delete_item(who.tenant_id, request.item_id))
        return api_pb2.Empty()

    async def ListItems(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        page = self._api.list_items(
            who.tenant_id,
            category=request.category or None,
            tag=request.tag or None,
            after=request.after or None,
            limit=request.limit or None,
        )
        body = await _body(context, page)
        reply = api_pb2.ListItemsReply(next_after=body.get("next") or "")
        for item in body.get("items", []):
            reply.items.append(_from_dict(_item_dict(item), api_pb2.Item()))
        return reply

    # Users

    async def GetUser(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        body = await _body(context, self._api.get_user(who.tenant_id, request.user_id))
        return _from_dict(body, api_pb2.User())

    async def UpsertUser(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.WRITE)
        fields = _to_dict(request.user)
        user_id = fields.pop("user_id", "")
        valid = await self._valid(context, UserFields, fields)
        body = await _body(context, self._api.upsert_user(who.tenant_id, user_id, valid))
        return _from_dict(body, api_pb2.User())

    async def DeleteUser(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.WRITE)
        await _body(context, self._api.delete_user(who.tenant_id, request.user_id))
        return api_pb2.Empty()

    async def BatchGetUsers(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        valid = await self._valid(context, BatchGet, {"user_ids": list(request.user_ids)})
        body = await _body(context, self._api.batch_get_users(who.tenant_id, valid))
        return _from_dict(body, api_pb2.BatchGetUsersReply())

    async def GetUserRealtimeFeatures(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        body = await _body(context, self._api.realtime_features(who.tenant_id, request.user_id))
        return _from_dict(body, api_pb2.RealtimeFeatures())

    # Events

    async def TrackEvent(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.WRITE)
        valid = await self._valid(context, EventBody, _event_dict(request))
        body = await _body(context, self._api.track_event(who.tenant_id, valid))
        return _from_dict(body, api_pb2.TrackEventReply())

    async def TrackEvents(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.WRITE)
        body = await _done(context, self._api.track_events(who.tenant_id, [_event_dict(e) for e in request.events]))
        reply = api_pb2.TrackEventsReply(accepted=body["accepted"], rejected=body["rejected"])
        for r in body["results"]:
            error = r.get("error") or {}
            reply.results.add(
                event_id=r.get("event_id") or "",
                status=r["status"],
                error_code=error.get("code", ""),
                error_message=error.get("message", ""),
            )
        return reply

    async def GetEventStats(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        stats = self._api.event_stats(who.tenant_id, request.since or None, request.until or None, request.type or None)
        return _from_dict(await _body(context, stats), api_pb2.EventStatsReply())

    # Experiments

    async def ListExperiments(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        found = await _done(context, self._api.experiments(who.tenant_id, request.since or None, request.until or None))
        return _from_dict(found.model_dump(mode="json"), api_pb2.ListExperimentsReply())

    async def GetScenarioMetrics(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        metrics = self._api.scenario_metrics(
            who.tenant_id,
            request.scenario or "home",
            request.since or None,
            request.until or None,
            request.interval or None,
            request.experiment or None,
            request.metric or None,
        )
        found = await _done(context, metrics)
        return _from_dict(found.model_dump(mode="json"), api_pb2.ScenarioMetricsReply())

    # Recommendations

    async def GetRecommendations(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        try:
            mode = Mode(request.mode or Mode.ONLINE.value)
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid_request: mode: online, cached or workflow")
            raise
        if request.count < 0 or request.count > 200:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid_request: count: 1..200")
        body = await _done(
            context,
            self._api.recommendations(
                who.tenant_id, request.user_id, request.scenario or "home", request.count or None, request.debug, mode
            ),
        )
        reply = _from_dict(
            {k: v for k, v in body.items() if k not in ("items", "debug")}, api_pb2.RecommendationsReply()
        )
        for item in body["items"]:
            reply.items.add(item_id=item["item_id"], score=item["score"], sources=item.get("sources", {}))
        if body.get("debug"):
            reply.debug.update(json.loads(json.dumps(body["debug"], default=str)))
        return reply

    async def GetSimilarItems(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        body = await _body(context, self._api.similar_items(who.tenant_id, request.item_id, request.count or 10))
        return _items_reply(body)

    async def GetPopularItems(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        return _items_reply(await _done(context, self._api.popular_items(who.tenant_id, request.count or 10)))


def _items_reply(body: dict[str, Any]) -> Any:
    reply = api_pb2.ItemsReply(degraded=bool(body.get("degraded")), reasons=body.get("reasons") or [])
    for item in body.get("items", []):
        reply.items.add(item_id=str(item["item_id"]), score=float(item.get("score", 0.0)))
    return reply


def _item_dict(item: dict[str, Any]) -> dict[str, Any]:
    """An item document as the proto's Item takes it (dates as ISO strings)."""
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in item.items()}


def _event_dict(message: Any) -> dict[str, Any]:
    """The event as the HTTP API takes it: fields the client left empty take their defaults."""
    data = _to_dict(message)
    return {k: v for k, v in data.items() if v not in ("", 0, 0.0) or k == "value"}


async def start_grpc(
    keys: KeyResolver, api: PublicApi, settings: GatewaySettings, buckets: TokenBuckets | None = None
) -> grpc.aio.Server:
    # A message over the HTTP API's body limit fails with RESOURCE_EXHAUSTED before it reaches a handler.
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", settings.max_body_bytes)])
    api_pb2_grpc.add_LemoServicer_to_server(LemoService(keys, api, buckets), server)
    server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
    await server.start()
    return server
