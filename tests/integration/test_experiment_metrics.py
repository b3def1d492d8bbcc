"""Experiment readouts through real sidecars (docs/experiments.md): lists served to users split across two variants
by the gateway, archived and counted by the events app, clicks attributed by the request id they echo, read back
over HTTP and gRPC. A redelivered click or list counts once; another tenant reads nothing of it; a click naming an
unknown list counts as unattributed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest

from apps.shared.settings import EXPOSURES_TOPIC, PUBSUB, STATE_STORE
from lemoproto.v1 import api_pb2, api_pb2_grpc
from tests.integration.conftest import unique
from tests.integration.mesh import App, free_port, uvicorn
from workflows.popularity_activities import popular_state_key

ADMIN_KEY = "it-admin-" + uuid.uuid4().hex
SCENARIO = {
    "scenario_id": "feed",
    "channels": [{"name": "hot"}],
    "ranker": "weighted",
    "default_count": 5,
    "experiments": [
        {
            "experiment_id": "ab",
            "variants": [{"variant_id": "control", "traffic": 50}, {"variant_id": "treatment", "traffic": 50}],
        }
    ],
}
ITEMS = [{"item_id": f"m{n}", "score": 100.0 - n} for n in range(20)]


@pytest.fixture(scope="module")
def mesh(app_env: dict[str, str]) -> Iterator[tuple[App, App, int]]:
    events = App(unique("events"), uvicorn("apps.events.main"), env=app_env).start()
    grpc_port = free_port()
    absent = unique("absent")  # no profiles, recall, ranking or rerank app: lists are the stored popular items
    env = {
        **app_env,
        "LEMO_ADMIN_KEY": ADMIN_KEY,
        "LEMO_GATEWAY_GRPC_PORT": str(grpc_port),
        "GATEWAY_EVENTS_APP": events.app_id,
        **{f"GATEWAY_{name}_APP": absent for name in ("PROFILES", "RECALL", "RANKING", "RERANK", "CATALOG")},
        "GATEWAY_POPULAR_DEADLINE_S": "5",
        "GATEWAY_RATE_LIMIT_PER_S": "0",
    }
    gateway = App(unique("gateway"), uvicorn("apps.gateway.main"), env=env).start()
    yield gateway, events, grpc_port
    gateway.stop()
    events.stop()


class Tenant(httpx.Client):
    tenant_id: str
    key: str


def _tenant(gateway: App) -> Tenant:
    tenant_id = f"t{uuid.uuid4().hex[:10]}"
    base = f"http://127.0.0.1:{gateway.app_port}"
    resp = httpx.post(f"{base}/v1/admin/tenants", json={"tenant_id": tenant_id}, headers={"X-Admin-Key": ADMIN_KEY})
    assert resp.status_code == 201, resp.text
    client = Tenant(base_url=base, timeout=30, headers={"X-API-Key": resp.json()["api_key"]})
    client.tenant_id, client.key = tenant_id, resp.json()["api_key"]
    assert client.put("/v1/scenarios/feed", json=SCENARIO).status_code == 201
    stored = httpx.post(
        f"{gateway.sidecar}/v1.0/state/{STATE_STORE}",
        json=[{"key": popular_state_key(tenant_id), "value": {"items": ITEMS}}],
        headers=gateway.headers,
    )
    assert stored.status_code == 204, stored.text
    return client


@pytest.fixture
def api(mesh: tuple[App, App, int]) -> Iterator[Tenant]:
    client = _tenant(mesh[0])
    yield client
    client.close()


@pytest.fixture
def other(mesh: tuple[App, App, int]) -> Iterator[Tenant]:
    client = _tenant(mesh[0])
    yield client
    client.close()


def _serve(api: Tenant, users: range) -> dict[str, list[dict[str, Any]]]:
    """Lists per variant, as the gateway answered them."""
    served: dict[str, list[dict[str, Any]]] = {}
    for n in users:
        resp = api.get(f"/v1/users/u{n}/recommendations", params={"scenario": "feed", "count": 5})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert (body["experiment"], len(body["items"])) == ("ab", 5), body
        served.setdefault(body["variant"], []).append(body)
    return served


def _metrics(api: Tenant, **params: Any) -> dict[str, Any]:
    resp = api.get("/v1/scenarios/feed/metrics", params={"since": time.time() - 3600, **params})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _row(metrics: dict[str, Any], variant: str) -> dict[str, Any]:
    return next(v for v in metrics["variants"] if v["variant"] == variant)


def _wait(fetch: Any, done: Any, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.3)
        value = fetch()
    return value


def _exposures(metrics: dict[str, Any]) -> int:
    return sum(v["exposures"] for v in metrics["variants"])


def _click(user: str, request_id: str | None, kind: str = "click", **extra: Any) -> dict[str, Any]:
    event = {"user_id": user, "item_id": "m1", "type": kind, "scenario": "feed", **extra}
    if request_id:
        event["context"] = {"request_id": request_id}
    return event


def _send(api: Tenant, events: list[dict[str, Any]]) -> None:
    resp = api.post("/v1/events/batch", json={"events": events})
    assert resp.status_code == 200 and resp.json()["accepted"] == len(events), resp.text


def test_clicks_on_served_lists_read_as_ctr_per_variant(api: Tenant, other: Tenant, mesh: tuple[App, App, int]) -> None:
    served = _serve(api, range(24))
    assert set(served) == {"control", "treatment"}, "24 users all landed in one variant"
    control, treatment = served["control"], served["treatment"]
    lists = len(control) + len(treatment)
    metrics = _wait(lambda: _metrics(api), lambda m: _exposures(m) >= lists)
    assert (_row(metrics, "control")["exposures"], _row(metrics, "treatment")["exposures"]) == (
        len(control),
        len(treatment),
    )

    # Control: one list clicked. Treatment: two lists clicked, one of them twice, and bought from once.
    # Resent (same event_id): counted once. Unattributed: an unknown request id, and another user's list.
    resent = _click(control[0]["user_id"], control[0]["request_id"], event_id=f"e-{uuid.uuid4().hex}")
    _send(api, [resent])
    _send(
        api,
        [
            resent,
            _click(treatment[0]["user_id"], treatment[0]["request_id"]),
            _click(treatment[0]["user_id"], treatment[0]["request_id"]),
            _click(treatment[0]["user_id"], treatment[0]["request_id"], kind="purchase"),
            _click(treatment[1]["user_id"], treatment[1]["request_id"]),
            _click(treatment[1]["user_id"], treatment[1]["request_id"], kind="view"),
            _click("stranger", "no-such-list"),
            _click("stranger", treatment[2]["request_id"]),
        ],
    )
    assert api.post("/v1/events", json=resent).status_code == 202  # and once more, alone
    metrics = _wait(
        lambda: _metrics(api),
        lambda m: _row(m, "treatment")["clicks"] >= 3 and sum(m["unattributed"].values()) >= 2,
    )
    time.sleep(2)  # the resends, had they counted, would have by now
    metrics = _metrics(api)
    c, t = _row(metrics, "control"), _row(metrics, "treatment")
    assert (metrics["experiment"], metrics["control"], metrics["interval"]) == ("ab", "control", "hour")
    assert (c["clicks"], c["lists_clicked"], c["conversions"], c["events"]) == (1, 1, 0, {"click": 1})
    assert (t["clicks"], t["lists_clicked"], t["conversions"], t["lists_converted"]) == (3, 2, 1, 1)
    assert t["events"] == {"click": 3, "purchase": 1, "view": 1}
    assert (c["items_shown"], t["items_shown"]) == (5 * len(control), 5 * len(treatment))
    assert c["ctr_list"]["value"] == pytest.approx(1 / len(control), abs=1e-6)
    assert t["ctr_list"]["value"] == pytest.approx(2 / len(treatment), abs=1e-6)
    assert t["ctr_item"]["value"] == pytest.approx(3 / (5 * len(treatment)), abs=1e-6)
    assert t["conversion_rate"]["value"] == pytest.approx(1 / len(treatment), abs=1e-6)
    assert t["ctr_list"]["low"] < t["ctr_list"]["value"] < t["ctr_list"]["high"]
    assert c["vs_control"] is None
    assert t["vs_control"]["metric"] == "ctr_list" and t["vs_control"]["verdict"] == "not enough data"
    assert t["vs_control"]["difference"] == pytest.approx(2 / len(treatment) - 1 / len(control), abs=1e-6)
    by_item = _row(_metrics(api, metric="ctr_item"), "treatment")["vs_control"]
    assert by_item["metric"] == "ctr_item"
    assert by_item["difference"] == pytest.approx(3 / (5 * len(treatment)) - 1 / (5 * len(control)), abs=1e-6)
    assert metrics["unattributed"] == {"click": 2}
    for row in (c, t):  # the series adds up to the totals
        assert sum(b["exposures"] for b in row["series"]) == row["exposures"]
        assert sum(b["clicks"] for b in row["series"]) == row["clicks"]
    assert len(_metrics(api, interval="minute")["variants"][0]["series"]) >= 60

    listed = api.get("/v1/experiments").json()["experiments"]
    assert [(e["scenario"], e["experiment"], e["enabled"], e["control"]) for e in listed] == [
        ("feed", "ab", True, "control")
    ]
    assert [(v["variant"], v["traffic"], v["exposures"], v["clicks"]) for v in listed[0]["variants"]] == [
        ("control", 50.0, len(control), 1),
        ("treatment", 50.0, len(treatment), 3),
    ]

    # Another tenant with the same scenario id reads only its own (empty) counters, and a click it sends with the
    # first tenant's request id is not theirs to attribute: it stays in its own unattributed.
    mine = _metrics(other)
    assert _exposures(mine) == 0 and all(v["clicks"] == 0 for v in mine["variants"])
    _send(other, [_click(treatment[0]["user_id"], treatment[0]["request_id"])])
    theirs = _wait(lambda: _metrics(other), lambda m: m["unattributed"])
    assert theirs["unattributed"] == {"click": 1} and _exposures(theirs) == 0
    assert _row(_metrics(api), "treatment")["clicks"] == 3


def _publish_list(events: App, tenant: Tenant, request_id: str, user_id: str, variant: str) -> None:
    """An exposure record straight onto the exposures topic, as the gateway publishes it."""
    record = {
        "request_id": request_id,
        "tenant_id": tenant.tenant_id,
        "user_id": user_id,
        "scenario": "feed",
        "experiment": "ab",
        "variant": variant,
        "items": [i["item_id"] for i in ITEMS[:5]],
        "timestamp": time.time(),
    }
    resp = httpx.post(
        f"{events.sidecar}/v1.0/publish/{PUBSUB}/{EXPOSURES_TOPIC}", json=record, headers=events.headers, timeout=30
    )
    assert resp.status_code == 204, resp.text


def test_a_redelivered_list_counts_once(api: Tenant, mesh: tuple[App, App, int]) -> None:
    _, events, _ = mesh
    [body] = [b for bodies in _serve(api, range(1)).values() for b in bodies]
    _wait(lambda: _metrics(api), lambda m: _exposures(m) >= 1)
    # The served list again, straight onto the topic (a broker redelivery), then a new one after it.
    for request_id in (body["request_id"], body["request_id"], f"r-{uuid.uuid4().hex}"):
        _publish_list(events, api, request_id, body["user_id"], body["variant"])
    metrics = _wait(lambda: _metrics(api), lambda m: _exposures(m) >= 2)
    time.sleep(2)
    metrics = _metrics(api)
    assert _row(metrics, body["variant"])["exposures"] == 2
    assert _row(metrics, body["variant"])["items_shown"] == 10


def test_bad_windows_unknown_scenarios_and_other_tenants(api: Tenant, other: Tenant) -> None:
    now = time.time()
    bad = api.get("/v1/scenarios/feed/metrics", params={"interval": "week"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    empty = api.get("/v1/scenarios/feed/metrics", params={"since": now, "until": now - 60})
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "invalid_window"
    long = api.get("/v1/scenarios/feed/metrics", params={"since": now - 5 * 86400, "interval": "minute"})
    assert long.status_code == 422 and long.json()["error"]["code"] == "too_many_buckets"
    assert long.json()["error"]["details"]["limit"] == 1500
    assert api.get("/v1/scenarios/feed/metrics", params={"since": "yesterday"}).status_code == 422
    assert api.get("/v1/scenarios/feed/metrics", params={"metric": "revenue"}).status_code == 422
    missing = api.get("/v1/scenarios/nope/metrics")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "scenario_not_found"
    assert api.get("/v1/scenarios/feed/metrics", params={"experiment": "zz"}).json()["error"]["code"] == (
        "experiment_not_found"
    )
    assert httpx.get(f"{api.base_url}/v1/scenarios/feed/metrics").status_code == 401

    # A scenario only one tenant has is not found for the other; its experiments are not listed there either.
    api.put("/v1/scenarios/solo", json={**SCENARIO, "scenario_id": "solo"})
    assert other.get("/v1/scenarios/solo/metrics").status_code == 404
    assert "solo" not in {e["scenario"] for e in other.get("/v1/experiments").json()["experiments"]}
    # The default scenario has no experiment: one row of lists served without one.
    home = api.get("/v1/scenarios/home/metrics").json()
    assert (home["experiment"], home["control"], [v["variant"] for v in home["variants"]]) == (None, None, [None])


def test_grpc_answers_the_same_readouts(api: Tenant, other: Tenant, mesh: tuple[App, App, int]) -> None:
    _serve(api, range(4))
    http = _wait(lambda: _metrics(api, since=time.time() - 3600), lambda m: _exposures(m) >= 4)
    with grpc.insecure_channel(f"127.0.0.1:{mesh[2]}") as channel:
        stub = api_pb2_grpc.LemoStub(channel)
        mine = (("x-api-key", api.key),)
        reply = stub.GetScenarioMetrics(
            api_pb2.ScenarioMetricsRequest(scenario="feed", since=http["since"], interval="hour"), metadata=mine
        )
        assert (reply.scenario, reply.experiment, reply.control, reply.interval) == ("feed", "ab", "control", "hour")
        assert [(v.variant, v.exposures, v.items_shown) for v in reply.variants] == [
            (v["variant"], v["exposures"], v["items_shown"]) for v in http["variants"]
        ]
        assert [len(v.series) for v in reply.variants] == [len(v["series"]) for v in http["variants"]]
        assert not reply.variants[0].HasField("vs_control") and reply.variants[1].HasField("vs_control")
        listed = stub.ListExperiments(api_pb2.ListExperimentsRequest(), metadata=mine)
        assert [(e.scenario, e.experiment, e.control) for e in listed.experiments] == [("feed", "ab", "control")]
        assert sum(v.exposures for v in listed.experiments[0].variants) == _exposures(http)

        with pytest.raises(grpc.RpcError) as bad:
            stub.GetScenarioMetrics(api_pb2.ScenarioMetricsRequest(scenario="feed", interval="week"), metadata=mine)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        by_item = stub.GetScenarioMetrics(
            api_pb2.ScenarioMetricsRequest(scenario="feed", metric="ctr_item"), metadata=mine
        )
        assert by_item.variants[1].vs_control.metric == "ctr_item"
        with pytest.raises(grpc.RpcError) as bad_metric:
            stub.GetScenarioMetrics(api_pb2.ScenarioMetricsRequest(scenario="feed", metric="revenue"), metadata=mine)
        assert bad_metric.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as missing:
            stub.GetScenarioMetrics(api_pb2.ScenarioMetricsRequest(scenario="nope"), metadata=mine)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        theirs = (("x-api-key", other.key),)
        other_reply = stub.GetScenarioMetrics(api_pb2.ScenarioMetricsRequest(scenario="feed"), metadata=theirs)
        assert sum(v.exposures for v in other_reply.variants) == 0
        with pytest.raises(grpc.RpcError) as no_key:
            stub.ListExperiments(api_pb2.ListExperimentsRequest())
        assert no_key.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_openapi_describes_the_readouts(api: Tenant) -> None:
    spec = api.get("/openapi.json").json()
    metrics = spec["paths"]["/v1/scenarios/{scenario_id}/metrics"]["get"]
    assert metrics["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ScenarioMetrics")
    assert {p["name"] for p in metrics["parameters"]} >= {"since", "until", "interval", "experiment"}
    listed = spec["paths"]["/v1/experiments"]["get"]
    assert listed["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ExperimentList")
    for status in ("401", "404", "422"):  # the error shape this API sends, not FastAPI's own validation body
        assert metrics["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert listed["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    variant = spec["components"]["schemas"]["VariantMetrics"]["properties"]
    assert {"ctr_list", "ctr_item", "conversion_rate", "vs_control", "series", "events"} <= set(variant)


def test_a_click_that_overtakes_its_list_moves_to_it(api: Tenant, mesh: tuple[App, App, int]) -> None:
    """A client may echo a request id before the gateway's list has reached the archive (lists leave the gateway
    every 250 ms): the click counts as unattributed until its list arrives, then for the list."""
    _, events, _ = mesh
    request_id = f"r-{uuid.uuid4().hex}"
    _send(api, [_click("early", request_id), _click("early", request_id, kind="view")])
    waiting = _wait(lambda: _metrics(api), lambda m: sum(m["unattributed"].values()) >= 2)
    assert waiting["unattributed"] == {"click": 1, "view": 1} and _exposures(waiting) == 0
    _publish_list(events, api, request_id, "early", "treatment")
    metrics = _wait(lambda: _metrics(api), lambda m: _row(m, "treatment")["clicks"] >= 1)
    t = _row(metrics, "treatment")
    assert (t["exposures"], t["clicks"], t["lists_clicked"], t["events"]) == (1, 1, 1, {"click": 1, "view": 1})
    assert metrics["unattributed"] == {}
