"""Service invocation through real sidecars: HTTP apps, and the gRPC ranking app (dapr-ext-grpc) over gRPC."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import httpx
import pytest
from dapr.proto import api_service_v1, api_v1, common_v1
from google.protobuf.any_pb2 import Any as AnyProto

from tests.integration.conftest import unique
from tests.integration.mesh import App, python_module, uvicorn


@pytest.fixture(scope="module")
def mesh(app_env: dict[str, str]) -> Iterator[dict[str, App]]:
    ranking_id, catalog_id = unique("ranking"), unique("catalog")
    ranking = App(
        ranking_id,
        python_module("apps.ranking.main"),
        app_protocol="grpc",
        env={**app_env, "RANKING_APP_PORT": "{port}"},
    )
    ranking.env["RANKING_APP_PORT"] = str(ranking.app_port)
    apps = {
        "ranking": ranking.start(),
        "catalog": App(catalog_id, uvicorn("apps.catalog.main"), env=app_env).start(),
    }
    apps["gateway"] = App(
        unique("gateway"),
        uvicorn("apps.gateway.main"),
        env={**app_env, "GATEWAY_MESH_APPS": json.dumps([catalog_id, ranking_id])},
    ).start()
    yield apps
    for app in apps.values():
        app.stop()


def test_gateway_reaches_every_app_through_the_sidecars(mesh: dict[str, App]) -> None:
    gateway = mesh["gateway"]
    url = f"{gateway.sidecar}/v1.0/invoke/{gateway.app_id}/method/v1/status"
    body = httpx.get(url, headers=gateway.headers, timeout=10).json()
    assert body["healthy"] is True, body
    assert {a["version"] for a in body["apps"].values()} == {"0.1.0"}


def test_status_reports_an_app_that_is_down(mesh: dict[str, App], app_env: dict[str, str]) -> None:
    gateway = App(
        unique("gateway"),
        uvicorn("apps.gateway.main"),
        env={**app_env, "GATEWAY_MESH_APPS": json.dumps([mesh["catalog"].app_id, "no-such-app"])},
    ).start()
    try:
        url = f"{gateway.sidecar}/v1.0/invoke/{gateway.app_id}/method/v1/status"
        resp = httpx.get(url, headers=gateway.headers, timeout=10)
        assert resp.status_code == 503
        apps = resp.json()["apps"]
        assert apps[mesh["catalog"].app_id]["ok"] is True
        assert apps["no-such-app"]["ok"] is False
    finally:
        gateway.stop()


def test_grpc_invocation_of_the_ranking_app(mesh: dict[str, App]) -> None:
    """gRPC all the way: client -> gateway's sidecar (gRPC API) -> ranking's sidecar -> ranking app (gRPC)."""
    request = {
        "candidates": [
            {"item_id": "a", "features": {"popularity": 0.2, "freshness": 0.9}},
            {"item_id": "b", "features": {"popularity": 0.9, "freshness": 0.1}},
            {"item_id": "c", "features": {}},
        ],
        "weights": {"popularity": 1.0, "freshness": 0.5},
    }
    with grpc.insecure_channel(f"127.0.0.1:{mesh['gateway'].grpc_port}") as channel:
        stub = api_service_v1.DaprStub(channel)
        resp = stub.InvokeService(
            api_v1.InvokeServiceRequest(
                id=mesh["ranking"].app_id,
                message=common_v1.InvokeRequest(
                    method="score",
                    data=AnyProto(value=json.dumps(request).encode()),
                    content_type="application/json",
                ),
            ),
            metadata=tuple(mesh["gateway"].headers.items()),
            timeout=10,
        )
    body = json.loads(resp.data.value)
    assert [i["item_id"] for i in body["items"]] == ["b", "a", "c"]
    assert body["items"][0]["score"] == pytest.approx(0.95)


def test_catalog_crud_through_http_invocation(mesh: dict[str, App], tenant: str) -> None:
    auth = mesh["gateway"].headers
    base = f"{mesh['gateway'].sidecar}/v1.0/invoke/{mesh['catalog'].app_id}/method/items/{tenant}"
    put = httpx.put(f"{base}/m1", json={"title": "Heat", "categories": ["crime"]}, headers=auth, timeout=10)
    assert put.status_code == 200, put.text
    assert httpx.put(f"{base}/m1", json={"hidden": True}, headers=auth, timeout=10).json()["title"] == "Heat"  # partial
    item = httpx.get(f"{base}/m1", headers=auth, timeout=10).json()
    assert item == {
        "tenant_id": tenant,
        "item_id": "m1",
        "title": "Heat",
        "categories": ["crime"],
        "hidden": True,
    }
    assert httpx.put(f"{base}/m2", json={"colour": "red"}, headers=auth, timeout=10).status_code == 422  # unknown field
    other_tenant = base.replace(f"/items/{tenant}", "/items/tother")
    assert httpx.get(f"{other_tenant}/m1", headers=auth, timeout=10).status_code == 404
    assert httpx.delete(f"{base}/m1", headers=auth, timeout=10).status_code == 204
    assert httpx.get(f"{base}/m1", headers=auth, timeout=10).status_code == 404
