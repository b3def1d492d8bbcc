"""The public API's two transports are twins: every gRPC method of proto/lemoproto/v1/api.proto has an HTTP
route, every public HTTP operation has a gRPC method or a stated reason to be HTTP-only, and a twin pair calls
the same operation of apps/gateway/service.py (one handler per operation; neither transport rebuilds the other's
downstream calls)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from apps.gateway.grpc_api import LemoService
from apps.gateway.keys import Principal
from apps.gateway.routers import ROUTERS
from apps.gateway.settings import GatewaySettings
from apps.shared.errors import ApiError, install_error_handlers
from lemo.tenancy import Scope
from lemoproto.v1 import api_pb2

Op = tuple[str, str]  # (HTTP method, route path)

# gRPC method -> its HTTP twin, the request each transport sends in this test, and the operation both call.
TWINS: dict[str, tuple[Op, dict[str, Any], Any, str]] = {
    "GetItem": (("GET", "/v1/items/{item_id}"), {}, api_pb2.GetItemRequest(item_id="i1"), "get_item"),
    "UpsertItem": (
        ("PUT", "/v1/items/{item_id}"),
        {"json": {"title": "t"}},
        api_pb2.UpsertItemRequest(item=api_pb2.Item(item_id="i1", title="t")),
        "upsert_item",
    ),
    "DeleteItem": (("DELETE", "/v1/items/{item_id}"), {}, api_pb2.DeleteItemRequest(item_id="i1"), "delete_item"),
    "ListItems": (("GET", "/v1/items"), {}, api_pb2.ListItemsRequest(), "list_items"),
    "GetUser": (("GET", "/v1/users/{user_id}"), {}, api_pb2.GetUserRequest(user_id="u1"), "get_user"),
    "UpsertUser": (
        ("PUT", "/v1/users/{user_id}"),
        {"json": {"attributes": {}}},
        api_pb2.UpsertUserRequest(user=api_pb2.User(user_id="u1")),
        "upsert_user",
    ),
    "DeleteUser": (("DELETE", "/v1/users/{user_id}"), {}, api_pb2.GetUserRequest(user_id="u1"), "delete_user"),
    "BatchGetUsers": (
        ("POST", "/v1/users/batch-get"),
        {"json": {"user_ids": ["u1"]}},
        api_pb2.BatchGetUsersRequest(user_ids=["u1"]),
        "batch_get_users",
    ),
    "GetUserRealtimeFeatures": (
        ("GET", "/v1/users/{user_id}/realtime"),
        {},
        api_pb2.GetUserRequest(user_id="u1"),
        "realtime_features",
    ),
    "TrackEvent": (
        ("POST", "/v1/events"),
        {"json": {"user_id": "u1", "item_id": "i1", "type": "click"}},
        api_pb2.Event(user_id="u1", item_id="i1", type="click"),
        "track_event",
    ),
    "TrackEvents": (
        ("POST", "/v1/events/batch"),
        {"json": {"events": [{"user_id": "u1", "item_id": "i1", "type": "click"}]}},
        api_pb2.TrackEventsRequest(events=[api_pb2.Event(user_id="u1", item_id="i1", type="click")]),
        "track_events",
    ),
    "GetEventStats": (("GET", "/v1/events/stats"), {}, api_pb2.EventStatsRequest(), "event_stats"),
    "ListExperiments": (("GET", "/v1/experiments"), {}, api_pb2.ListExperimentsRequest(), "experiments"),
    "GetScenarioMetrics": (
        ("GET", "/v1/scenarios/{scenario_id}/metrics"),
        {},
        api_pb2.ScenarioMetricsRequest(scenario="home"),
        "scenario_metrics",
    ),
    "GetRecommendations": (
        ("GET", "/v1/users/{user_id}/recommendations"),
        {},
        api_pb2.RecommendationsRequest(user_id="u1"),
        "recommendations",
    ),
    "GetSimilarItems": (
        ("GET", "/v1/items/{item_id}/similar"),
        {},
        api_pb2.SimilarItemsRequest(item_id="i1"),
        "similar_items",
    ),
    "GetPopularItems": (("GET", "/v1/popular"), {}, api_pb2.PopularItemsRequest(), "popular_items"),
}

# Public HTTP operations without a gRPC twin, and why. The proto is the public contract (DESIGN.md section 9), so
# a twin for one of these is a compatible addition to it first; a new HTTP operation must be added here or there.
HTTP_ONLY: dict[Op, str] = {
    ("POST", "/v1/items"): "create-only (409 when it exists); gRPC clients create and replace with UpsertItem",
    ("PATCH", "/v1/items/{item_id}"): "a partial update; the proto's Item has no field mask to say which fields",
    ("POST", "/v1/items/batch"): "an NDJSON body streamed through; gRPC clients send items one by one",
    ("POST", "/v1/users/batch"): "an NDJSON body streamed through; gRPC clients send users one by one",
    ("PATCH", "/v1/users/{user_id}"): "a partial update; the proto's User has no field mask to say which fields",
    ("GET", "/v1/users"): "the operator console's user browser (prefix search, totals); not in the proto",
    ("GET", "/v1/users/{user_id}/activity"): "the operator console's activity view; not in the proto",
    ("POST", "/api/v1/recommendations/v2"): "the old BFF's HTTP contract, kept for its HTTP clients only",
    ("GET", "/v1/preview"): "the operator console's variant preview (served to no one)",
    ("GET", "/v1/tenant"): "the operator console's first call after logging in",
    ("GET", "/v1/status"): "the mesh's health for operators and probes",
    ("GET", "/v1/ingest/errors"): "operations on the ingest topics; not in the proto",
    ("POST", "/v1/feeds/refresh"): "operations on precomputed feeds; not in the proto",
    ("GET", "/v1/feeds/refresh/{run_id}"): "operations on precomputed feeds; not in the proto",
    ("POST", "/v1/models/train"): "model operations (training, versions) are HTTP, as in DESIGN.md section 9",
    ("GET", "/v1/models/runs/{run_id}"): "model operations (training, versions) are HTTP, as in DESIGN.md section 9",
    ("GET", "/v1/models"): "model operations (training, versions) are HTTP, as in DESIGN.md section 9",
    ("POST", "/v1/models/{kind}/activate"): "model operations are HTTP, as in DESIGN.md section 9",
    ("POST", "/v1/models/{kind}/rollback"): "model operations are HTTP, as in DESIGN.md section 9",
    ("PUT", "/v1/scenarios/{scenario_id}"): "scenario configuration is HTTP (the console and deploy scripts)",
    ("GET", "/v1/scenarios"): "scenario configuration is HTTP (the console and deploy scripts)",
    ("GET", "/v1/scenarios/{scenario_id}"): "scenario configuration is HTTP (the console and deploy scripts)",
    ("DELETE", "/v1/scenarios/{scenario_id}"): "scenario configuration is HTTP (the console and deploy scripts)",
}
# The platform administrator's API (X-Admin-Key, not a tenant key): HTTP only by design.
ADMIN_PREFIX = "/v1/admin/"


def _http_operations() -> set[Op]:
    return {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema and not route.path.startswith(ADMIN_PREFIX)
        for method in route.methods or ()
    }


def test_every_grpc_method_has_an_http_twin_and_every_http_operation_a_grpc_twin_or_a_reason() -> None:
    methods = set(api_pb2.DESCRIPTOR.services_by_name["Lemo"].methods_by_name)
    assert methods == set(TWINS), "each gRPC method needs its HTTP twin in TWINS"
    twins = {op for op, *_ in TWINS.values()}
    http = _http_operations()
    assert twins <= http, f"twins without an HTTP route: {sorted(twins - http)}"
    assert http - twins == set(HTTP_ONLY), "an HTTP operation without a gRPC twin needs a reason in HTTP_ONLY"


class _Called(Exception):
    pass


@dataclass
class _RecordingApi:
    """Stands in for apps/gateway/service.PublicApi: records which operation was called, then fails it (as an
    unreachable app would), so each transport's translation of the failure is exercised too."""

    calls: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        async def operation(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            raise ApiError(503, "upstream_unavailable", f"{name} called")

        return operation


class _Keys:
    async def resolve(self, key: str) -> Principal | None:
        return Principal(tenant_id="acme", scopes=frozenset(Scope)) if key == "k1.secret" else None


class _Aborted(Exception):
    pass


class _Context:
    def __init__(self) -> None:
        self.code: Any = None

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return [("x-api-key", "k1.secret")]

    async def abort(self, code: Any, details: str, trailing_metadata: Any = None) -> None:
        self.code = code
        raise _Aborted(details)


@pytest.fixture(scope="module")
def http() -> tuple[TestClient, _RecordingApi]:
    api = _RecordingApi()
    app = FastAPI()
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.state.api, app.state.keys, app.state.tenants, app.state.settings = api, _Keys(), None, GatewaySettings()
    return TestClient(app), api


@pytest.mark.parametrize("method", sorted(TWINS))
def test_a_grpc_method_and_its_http_twin_call_the_same_operation(
    method: str, http: tuple[TestClient, _RecordingApi]
) -> None:
    (verb, path), options, message, operation = TWINS[method]
    client, http_api = http
    url = path.format(item_id="i1", user_id="u1", scenario_id="home")
    resp = client.request(verb, url, headers={"X-API-Key": "k1.secret"}, **options)
    assert resp.status_code == 503, resp.text
    assert http_api.calls[-1] == operation

    grpc_api = _RecordingApi()
    context = _Context()
    with pytest.raises(_Aborted):
        asyncio.run(getattr(LemoService(_Keys(), grpc_api), method)(message, context))  # type: ignore[arg-type]
    assert grpc_api.calls == [operation]
    assert context.code.name == "UNAVAILABLE"
