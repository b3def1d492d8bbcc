"""The public gRPC API on the gateway: the same behavior as HTTP, the key in `x-api-key` metadata."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import grpc
import httpx
import pytest

from lemoproto.v1 import api_pb2, api_pb2_grpc
from tests.integration.conftest import unique
from tests.integration.mesh import App, free_port, uvicorn

ADMIN_KEY = "it-admin-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def gateway(app_env: dict[str, str]) -> Iterator[tuple[App, int]]:
    backends = {
        "catalog": App(unique("catalog"), uvicorn("apps.catalog.main"), env=app_env).start(),
        "profiles": App(unique("profiles"), uvicorn("apps.profiles.main"), env=app_env).start(),
        "events": App(unique("events"), uvicorn("apps.events.main"), env=app_env).start(),
    }
    grpc_port = free_port()
    env = {
        **app_env,
        "LEMO_ADMIN_KEY": ADMIN_KEY,
        "LEMO_GATEWAY_GRPC_PORT": str(grpc_port),
        **{f"GATEWAY_{name.upper()}_APP": app.app_id for name, app in backends.items()},
    }
    gw = App(unique("gateway"), uvicorn("apps.gateway.main"), env=env).start()
    yield gw, grpc_port
    for app in [gw, *backends.values()]:
        app.stop()


def _key(gw: App) -> str:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    resp = httpx.post(
        f"http://127.0.0.1:{gw.app_port}/v1/admin/tenants",
        json={"tenant_id": tenant},
        headers={"X-Admin-Key": ADMIN_KEY},
        timeout=10,
    )
    return str(resp.json()["api_key"])


def test_grpc_items_users_events_and_tenancy(gateway: tuple[App, int]) -> None:
    gw, port = gateway
    mine, theirs = (("x-api-key", _key(gw)),), (("x-api-key", _key(gw)),)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        api = api_pb2_grpc.LemoStub(channel)
        with pytest.raises(grpc.RpcError) as no_key:
            api.GetItem(api_pb2.GetItemRequest(item_id="m1"), timeout=10)
        assert no_key.value.code() == grpc.StatusCode.UNAUTHENTICATED

        item = api.UpsertItem(
            api_pb2.UpsertItemRequest(item=api_pb2.Item(item_id="m1", title="Heat", categories=["crime"])),
            metadata=mine,
            timeout=10,
        )
        assert (item.item_id, item.title, list(item.categories)) == ("m1", "Heat", ["crime"])
        assert api.GetItem(api_pb2.GetItemRequest(item_id="m1"), metadata=mine, timeout=10).title == "Heat"
        with pytest.raises(grpc.RpcError) as cross:
            api.GetItem(api_pb2.GetItemRequest(item_id="m1"), metadata=theirs, timeout=10)
        assert cross.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as bad:
            api.UpsertItem(
                api_pb2.UpsertItemRequest(item=api_pb2.Item(item_id="m2", categories=["has space"])),
                metadata=mine,
                timeout=10,
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        user = api_pb2.User(user_id="u1")
        user.attributes.update({"age": 31})
        assert api.UpsertUser(api_pb2.UpsertUserRequest(user=user), metadata=mine, timeout=10).attributes["age"] == 31
        users = api.BatchGetUsers(api_pb2.BatchGetUsersRequest(user_ids=["u1", "ghost"]), metadata=mine, timeout=10)
        assert [u.user_id for u in users.users] == ["u1"] and list(users.missing) == ["ghost"]

        one = api.TrackEvent(api_pb2.Event(user_id="u1", item_id="m1", type="like"), metadata=mine, timeout=10)
        assert one.status == "accepted" and one.event_id
        many = api.TrackEvents(
            api_pb2.TrackEventsRequest(
                events=[
                    api_pb2.Event(user_id="u1", item_id="m1", type="click"),
                    api_pb2.Event(user_id="u1", item_id="m1", type="teleport"),
                ]
            ),
            metadata=mine,
            timeout=10,
        )
        assert [r.status for r in many.results] == ["accepted", "rejected"]
        assert many.results[1].error_code == "invalid_event"

        deadline = time.monotonic() + 30
        features = api.GetUserRealtimeFeatures(api_pb2.GetUserRequest(user_id="u1"), metadata=mine, timeout=10)
        while sum(features.type_counts.values()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            features = api.GetUserRealtimeFeatures(api_pb2.GetUserRequest(user_id="u1"), metadata=mine, timeout=10)
        assert dict(features.type_counts) == {"like": 1, "click": 1}
        assert dict(features.window_1h) == {"c:crime": 2}
        other = api.GetUserRealtimeFeatures(api_pb2.GetUserRequest(user_id="u1"), metadata=theirs, timeout=10)
        assert list(other.recent_items) == []


def test_grpc_lists_stats_deletes_and_degrades_recommendations(gateway: tuple[App, int]) -> None:
    gw, port = gateway
    mine, theirs = (("x-api-key", _key(gw)),), (("x-api-key", _key(gw)),)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        api = api_pb2_grpc.LemoStub(channel)
        for n in range(3):
            api.UpsertItem(
                api_pb2.UpsertItemRequest(item=api_pb2.Item(item_id=f"l{n}", title=f"Film {n}", categories=["drama"])),
                metadata=mine,
                timeout=10,
            )
        page = api.ListItems(api_pb2.ListItemsRequest(category="drama", limit=2), metadata=mine, timeout=10)
        assert [i.item_id for i in page.items] == ["l0", "l1"] and page.next_after == "l1"
        rest = api.ListItems(api_pb2.ListItemsRequest(after=page.next_after), metadata=mine, timeout=10)
        assert [i.item_id for i in rest.items] == ["l2"] and rest.next_after == ""
        assert list(api.ListItems(api_pb2.ListItemsRequest(), metadata=theirs, timeout=10).items) == []

        now = time.time()
        api.TrackEvents(
            api_pb2.TrackEventsRequest(events=[api_pb2.Event(user_id="u9", item_id="l0", type="click")]),
            metadata=mine,
            timeout=10,
        )
        deadline = time.monotonic() + 30
        while True:
            stats = api.GetEventStats(api_pb2.EventStatsRequest(since=now - 60), metadata=mine, timeout=10)
            if stats.total >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert dict(stats.counts) == {"click": 1}
        assert api.GetEventStats(api_pb2.EventStatsRequest(since=now - 60), metadata=theirs, timeout=10).total == 0

        user = api_pb2.User(user_id="gone")
        api.UpsertUser(api_pb2.UpsertUserRequest(user=user), metadata=mine, timeout=10)
        with pytest.raises(grpc.RpcError) as cross:
            api.DeleteUser(api_pb2.GetUserRequest(user_id="gone"), metadata=theirs, timeout=10)
        assert cross.value.code() == grpc.StatusCode.NOT_FOUND
        api.DeleteUser(api_pb2.GetUserRequest(user_id="gone"), metadata=mine, timeout=10)
        with pytest.raises(grpc.RpcError) as gone:
            api.GetUser(api_pb2.GetUserRequest(user_id="gone"), metadata=mine, timeout=10)
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND

        # No recall, ranking or rerank app runs behind this gateway: still an answer, degraded, never an error.
        reply = api.GetRecommendations(api_pb2.RecommendationsRequest(user_id="u9", count=5), metadata=mine, timeout=60)
        assert reply.degraded and reply.scenario == "home" and any("recall" in r for r in reply.reasons)
        with pytest.raises(grpc.RpcError) as bad_mode:
            api.GetRecommendations(api_pb2.RecommendationsRequest(user_id="u9", mode="psychic"), metadata=mine)
        assert bad_mode.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as no_scenario:
            api.GetRecommendations(api_pb2.RecommendationsRequest(user_id="u9", scenario="nope"), metadata=mine)
        assert no_scenario.value.code() == grpc.StatusCode.NOT_FOUND
