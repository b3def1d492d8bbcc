"""The public gRPC API (proto/lemoproto/v1/api.proto): the same calls and checks as the HTTP API, with the
tenant's key in the `x-api-key` metadata. HTTP error codes map onto gRPC status codes."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel, ValidationError

from apps.gateway.auth import KeyResolver, Principal
from apps.gateway.downstream import Downstream
from apps.gateway.events import track_many
from apps.gateway.experiments import list_experiments, scenario_metrics
from apps.gateway.recommend import Mode, Recommender
from apps.gateway.settings import GatewaySettings
from apps.shared.errors import ApiError
from apps.shared.limits import TokenBuckets, retry_after_header
from lemo.catalog import ItemFields
from lemo.events import Event, EventBody
from lemo.stores.mongo import ScenarioRepository
from lemo.tenancy import Scope, split_key
from lemo.users import BatchGet, UserFields
from lemoproto.v1 import api_pb2, api_pb2_grpc

M = TypeVar("M", bound=BaseModel)

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


class LemoService(api_pb2_grpc.LemoServicer):
    def __init__(
        self,
        keys: KeyResolver,
        down: Downstream,
        settings: GatewaySettings,
        recommender: Recommender,
        buckets: TokenBuckets | None = None,
        scenarios: ScenarioRepository | None = None,
    ) -> None:
        self._keys = keys
        self._down = down
        self._recommender = recommender
        self._settings = settings
        self._buckets = buckets  # the HTTP API's per-key rate limit buckets; None: no rate limit
        self._scenarios = scenarios  # None: ListExperiments is unavailable

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

    async def _call(
        self,
        context: grpc.aio.ServicerContext,
        app_id: str,
        method: str,
        path: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            resp = await self._down.call(app_id, method, path, json=json, params=params)
        except ApiError as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{exc.code}: {exc.message}")
        if resp.status_code >= 400:
            error = (resp.json().get("error") or {}) if resp.content else {}
            code = _CODES.get(resp.status_code, grpc.StatusCode.INTERNAL)
            await context.abort(code, f"{error.get('code', resp.status_code)}: {error.get('message', '')}")
        return dict(resp.json()) if resp.content else {}

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

    async def GetItem(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        body = await self._call(context, self._settings.catalog_app, "GET", f"items/{who.tenant_id}/{request.item_id}")
        return _from_dict(body, api_pb2.Item())

    async def UpsertItem(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.WRITE)
        fields = _to_dict(request.item)
        item_id = fields.pop("item_id", "")
        valid = await self._valid(context, ItemFields, fields)
        body = await self._call(
            context,
            self._settings.catalog_app,
            "PUT",
            f"items/{who.tenant_id}/{item_id}",
            json=valid.model_dump(mode="json", exclude_unset=True),
        )
        return _from_dict(body, api_pb2.Item())

    async def DeleteItem(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.WRITE)
        await self._call(context, self._settings.catalog_app, "DELETE", f"items/{who.tenant_id}/{request.item_id}")
        return api_pb2.Empty()

    async def GetUser(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        body = await self._call(context, self._settings.profiles_app, "GET", f"users/{who.tenant_id}/{request.user_id}")
        return _from_dict(body, api_pb2.User())

    async def UpsertUser(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.WRITE)
        fields = _to_dict(request.user)
        user_id = fields.pop("user_id", "")
        valid = await self._valid(context, UserFields, fields)
        body = await self._call(
            context,
            self._settings.profiles_app,
            "PUT",
            f"users/{who.tenant_id}/{user_id}",
            json=valid.model_dump(mode="json"),
        )
        return _from_dict(body, api_pb2.User())

    async def BatchGetUsers(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        valid = await self._valid(context, BatchGet, {"user_ids": list(request.user_ids)})
        body = await self._call(
            context, self._settings.profiles_app, "POST", f"users/{who.tenant_id}/_batch_get", json=valid.model_dump()
        )
        return _from_dict(body, api_pb2.BatchGetUsersReply())

    async def GetUserRealtimeFeatures(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        body = await self._call(
            context, self._settings.profiles_app, "GET", f"users/{who.tenant_id}/{request.user_id}/realtime"
        )
        return _from_dict(body, api_pb2.RealtimeFeatures())

    async def TrackEvent(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.WRITE)
        valid = await self._valid(context, EventBody, _event_dict(request))
        event = Event(tenant_id=who.tenant_id, **valid.model_dump())
        body = await self._call(
            context, self._settings.events_app, "POST", "events", json=event.model_dump(mode="json")
        )
        return _from_dict(body, api_pb2.TrackEventReply())

    async def TrackEvents(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.WRITE)
        try:
            body = await track_many(
                self._down, self._settings.events_app, who.tenant_id, [_event_dict(e) for e in request.events]
            )
        except ApiError as exc:
            await context.abort(_CODES.get(exc.status_code, grpc.StatusCode.UNAVAILABLE), f"{exc.code}: {exc.message}")
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

    async def ListItems(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        params = {"category": request.category, "tag": request.tag, "after": request.after, "limit": request.limit}
        body = await self._call(
            context,
            self._settings.catalog_app,
            "GET",
            f"items/{who.tenant_id}",
            params={k: v for k, v in params.items() if v},
        )
        reply = api_pb2.ListItemsReply(next_after=body.get("next") or "")
        for item in body.get("items", []):
            reply.items.append(_from_dict(_item_dict(item), api_pb2.Item()))
        return reply

    async def DeleteUser(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.WRITE)
        await self._call(context, self._settings.profiles_app, "DELETE", f"users/{who.tenant_id}/{request.user_id}")
        return api_pb2.Empty()

    async def GetEventStats(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        params = {"since": request.since or None, "until": request.until or None, "type": request.type or None}
        body = await self._call(
            context,
            self._settings.events_app,
            "GET",
            f"events/{who.tenant_id}/stats",
            params={k: v for k, v in params.items() if v is not None},
        )
        return _from_dict(body, api_pb2.EventStatsReply())

    async def ListExperiments(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        if self._scenarios is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "unavailable: no scenario store on this server")
        assert self._scenarios is not None
        try:
            body = await list_experiments(
                self._down,
                self._settings.events_app,
                self._scenarios,
                who.tenant_id,
                request.since or None,
                request.until or None,
            )
        except ApiError as exc:
            await context.abort(_CODES.get(exc.status_code, grpc.StatusCode.UNAVAILABLE), f"{exc.code}: {exc.message}")
            raise
        return _from_dict(body.model_dump(mode="json"), api_pb2.ListExperimentsReply())

    async def GetScenarioMetrics(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        try:
            body = await scenario_metrics(
                self._down,
                self._settings.events_app,
                self._recommender.book,
                who.tenant_id,
                request.scenario or "home",
                request.since or None,
                request.until or None,
                request.interval or None,
                request.experiment or None,
                request.metric or None,
            )
        except ApiError as exc:
            await context.abort(_CODES.get(exc.status_code, grpc.StatusCode.UNAVAILABLE), f"{exc.code}: {exc.message}")
            raise
        return _from_dict(body.model_dump(mode="json"), api_pb2.ScenarioMetricsReply())

    async def GetRecommendations(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        try:
            mode = Mode(request.mode or Mode.ONLINE.value)
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid_request: mode: online, cached or workflow")
            raise
        if request.count < 0 or request.count > 200:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid_request: count: 1..200")
        try:
            body = await self._recommender.recommend(
                who.tenant_id, request.user_id, request.scenario or "home", request.count or None, request.debug, mode
            )
        except ApiError as exc:
            await context.abort(_CODES.get(exc.status_code, grpc.StatusCode.UNAVAILABLE), f"{exc.code}: {exc.message}")
            raise
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
        body = await self._call(
            context,
            self._settings.recall_app,
            "GET",
            f"similar/{who.tenant_id}/{request.item_id}",
            params={"k": request.count or 10},
        )
        return _items_reply(body)

    async def GetPopularItems(self, request: Any, context: Any) -> Any:
        who = await self._who(context, Scope.READ)
        items, problem = await self._recommender.pipeline.popular(who.tenant_id, request.count or 10, set())
        body = {
            "items": [i.model_dump() for i in items],
            "degraded": problem is not None,
            "reasons": [problem] if problem else [],
        }
        return _items_reply(body)


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
    keys: KeyResolver,
    down: Downstream,
    settings: GatewaySettings,
    recommender: Recommender,
    buckets: TokenBuckets | None = None,
    scenarios: ScenarioRepository | None = None,
) -> grpc.aio.Server:
    # A message over the HTTP API's body limit fails with RESOURCE_EXHAUSTED before it reaches a handler.
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", settings.max_body_bytes)])
    api_pb2_grpc.add_LemoServicer_to_server(LemoService(keys, down, settings, recommender, buckets, scenarios), server)
    server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
    await server.start()
    return server
