"""Mesh security through real sidecars (docs/security.md): the Dapr API token on every sidecar, the app API token
on every app (HTTP and gRPC), health open to probes, the gateway's public API on tenant keys only, and the
gateway's body-size and per-key rate limits."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import grpc
import httpx
import pytest
from dapr.proto import api_service_v1, api_v1, appcallback_service_v1, common_v1
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.empty_pb2 import Empty

from lemoproto.v1 import api_pb2, api_pb2_grpc
from tests.integration.conftest import unique
from tests.integration.mesh import TOKEN_HEADER, App, free_port, python_module, uvicorn

ADMIN_KEY = "it-admin-" + uuid.uuid4().hex
MAX_BODY_BYTES = 64 * 1024
RATE_PER_S, BURST = 0.1, 5  # one token per 10 s: a burst of 5 cannot refill while the test sends it
SCORE = {"candidates": [{"item_id": "a", "features": {"popularity": 1.0}}], "weights": {"popularity": 1.0}}


@pytest.fixture(scope="module")
def mesh(app_env: dict[str, str]) -> Iterator[dict[str, App]]:
    ranking = App(unique("ranking"), python_module("apps.ranking.main"), app_protocol="grpc", env=dict(app_env))
    ranking.env["RANKING_APP_PORT"] = str(ranking.app_port)
    apps = {
        "ranking": ranking.start(),
        "catalog": App(unique("catalog"), uvicorn("apps.catalog.main"), env=app_env).start(),
    }
    gateway_env = {
        **app_env,
        "LEMO_ADMIN_KEY": ADMIN_KEY,
        "LEMO_GATEWAY_GRPC_PORT": str(free_port()),
        "GATEWAY_CATALOG_APP": apps["catalog"].app_id,
        "GATEWAY_MESH_APPS": json.dumps([apps["catalog"].app_id, ranking.app_id]),
        "GATEWAY_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "GATEWAY_RATE_LIMIT_PER_S": str(RATE_PER_S),
        "GATEWAY_RATE_LIMIT_BURST": str(BURST),
    }
    apps["gateway"] = App(unique("gateway"), uvicorn("apps.gateway.main"), env=gateway_env).start()
    yield apps
    for app in apps.values():
        app.stop()


def _public(mesh: dict[str, App]) -> str:
    return f"http://127.0.0.1:{mesh['gateway'].app_port}"


def _grpc_public(mesh: dict[str, App]) -> str:
    return f"127.0.0.1:{mesh['gateway'].env['LEMO_GATEWAY_GRPC_PORT']}"


def _tenant_key(mesh: dict[str, App]) -> str:
    resp = httpx.post(
        f"{_public(mesh)}/v1/admin/tenants",
        json={"tenant_id": f"t{uuid.uuid4().hex[:10]}"},
        headers={"X-Admin-Key": ADMIN_KEY},
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["api_key"])


def _error(resp: httpx.Response) -> str:
    return str(resp.json()["error"]["code"])


# --- the Dapr API token: the sidecar's own API ----------------------------------------------------------------------


def test_the_sidecar_http_api_needs_the_dapr_api_token(mesh: dict[str, App]) -> None:
    catalog = mesh["catalog"]
    metadata = f"{catalog.sidecar}/v1.0/metadata"
    assert httpx.get(metadata, timeout=10).status_code == 401
    assert httpx.get(metadata, headers={TOKEN_HEADER: "not-the-token"}, timeout=10).status_code == 401
    assert httpx.get(metadata, headers=catalog.headers, timeout=10).json()["id"] == catalog.app_id
    invoke = f"{catalog.sidecar}/v1.0/invoke/{catalog.app_id}/method/items/tnobody"
    assert httpx.get(invoke, timeout=10).status_code == 401
    assert httpx.get(invoke, headers=catalog.headers, timeout=10).status_code == 200
    # The one route daprd leaves open, for probes.
    assert httpx.get(f"{catalog.sidecar}/v1.0/healthz", timeout=10).status_code == 204


def test_the_sidecar_grpc_api_needs_the_dapr_api_token(mesh: dict[str, App]) -> None:
    catalog = mesh["catalog"]
    with grpc.insecure_channel(f"127.0.0.1:{catalog.grpc_port}") as channel:
        stub = api_service_v1.DaprStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetMetadata(api_v1.GetMetadataRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        reply = stub.GetMetadata(api_v1.GetMetadataRequest(), metadata=tuple(catalog.headers.items()), timeout=10)
        assert reply.id == catalog.app_id


# --- the app API token: calls into an app ---------------------------------------------------------------------------


def test_an_http_app_refuses_calls_that_bypass_its_sidecar(mesh: dict[str, App]) -> None:
    catalog = mesh["catalog"]
    direct = f"http://127.0.0.1:{catalog.app_port}"
    resp = httpx.get(f"{direct}/items/tnobody", timeout=10)
    assert resp.status_code == 401 and _error(resp) == "missing_app_token"
    resp = httpx.get(f"{direct}/items/tnobody", headers=catalog.headers, timeout=10)  # the Dapr API token
    assert resp.status_code == 401 and _error(resp) == "invalid_app_token"
    assert httpx.get(f"{direct}/dapr/config", timeout=10).status_code == 401
    assert httpx.get(f"{direct}/items/tnobody", headers={TOKEN_HEADER: catalog.app_api_token}).status_code == 200
    # Health stays open: daprd's own app health probe sends no token, and neither do Kubernetes probes.
    assert httpx.get(f"{direct}/healthz", timeout=10).json()["status"] == "ok"
    # The sidecar adds the app token: the same call through it works.
    via = httpx.get(f"{catalog.sidecar}/v1.0/invoke/{catalog.app_id}/method/items/tnobody", headers=catalog.headers)
    assert via.status_code == 200, via.text


def _score_request() -> common_v1.InvokeRequest:
    return common_v1.InvokeRequest(
        method="score", data=AnyProto(value=json.dumps(SCORE).encode()), content_type="application/json"
    )


def test_the_grpc_app_refuses_calls_that_bypass_its_sidecar(mesh: dict[str, App]) -> None:
    ranking = mesh["ranking"]
    with grpc.insecure_channel(f"127.0.0.1:{ranking.app_port}") as channel:
        callback = appcallback_service_v1.AppCallbackStub(channel)
        for metadata in ((), ((TOKEN_HEADER, ranking.dapr_api_token),)):
            with pytest.raises(grpc.RpcError) as refused:
                callback.OnInvoke(_score_request(), metadata=metadata, timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "app_token" in (refused.value.details() or "")
        reply = callback.OnInvoke(_score_request(), metadata=((TOKEN_HEADER, ranking.app_api_token),), timeout=10)
        assert json.loads(reply.data.value)["items"][0]["item_id"] == "a"
        # daprd's health probe and startup listings carry no token (dapr 1.18.2 pkg/channel/grpc): they stay open.
        appcallback_service_v1.AppCallbackHealthCheckStub(channel).HealthCheck(Empty(), timeout=10)
        callback.ListTopicSubscriptions(Empty(), timeout=10)
    via = httpx.post(
        f"{ranking.sidecar}/v1.0/invoke/{ranking.app_id}/method/score", json=SCORE, headers=ranking.headers, timeout=10
    )
    assert via.status_code == 200, via.text
    assert via.json()["items"][0]["item_id"] == "a"


def test_every_app_is_healthy_through_the_mesh(mesh: dict[str, App]) -> None:
    """The gateway's SDK client (Dapr API token) -> each sidecar -> each app (app token)."""
    gateway = mesh["gateway"]
    url = f"{gateway.sidecar}/v1.0/invoke/{gateway.app_id}/method/v1/status"
    body = httpx.get(url, headers=gateway.headers, timeout=30).json()
    assert body["healthy"] is True, body


# --- the gateway: public API on tenant keys, limits -----------------------------------------------------------------


def test_the_gateway_public_api_needs_tenant_keys_not_the_app_token(mesh: dict[str, App]) -> None:
    key = _tenant_key(mesh)
    with httpx.Client(base_url=_public(mesh), headers={"X-API-Key": key}, timeout=30) as api:
        assert api.post("/v1/items", json={"item_id": "m1", "title": "Heat"}).status_code == 201
        assert api.get("/v1/items/m1").json()["title"] == "Heat"
    assert _error(httpx.get(f"{_public(mesh)}/v1/items/m1", timeout=10)) == "missing_api_key"
    assert httpx.get(f"{_public(mesh)}/healthz", timeout=10).json()["status"] == "ok"
    with grpc.insecure_channel(_grpc_public(mesh)) as channel:
        item = api_pb2_grpc.LemoStub(channel).GetItem(
            api_pb2.GetItemRequest(item_id="m1"), metadata=(("x-api-key", key),), timeout=30
        )
        assert item.title == "Heat"
    # The paths only daprd calls on the gateway do need the app token.
    resp = httpx.get(f"{_public(mesh)}/dapr/config", timeout=10)
    assert resp.status_code == 401 and _error(resp) == "missing_app_token"


def test_a_body_over_the_limit_gets_413(mesh: dict[str, App]) -> None:
    key = _tenant_key(mesh)
    with httpx.Client(base_url=_public(mesh), headers={"X-API-Key": key}, timeout=30) as api:
        big = api.post("/v1/items", json={"item_id": "m2", "title": "x" * MAX_BODY_BYTES})
        assert big.status_code == 413
        assert big.json()["error"] == {
            "code": "body_too_large",
            "message": f"the request body exceeds {MAX_BODY_BYTES} bytes",
            "details": {"limit": MAX_BODY_BYTES},
        }

        def ndjson(lines: int) -> Iterator[bytes]:  # a generator: sent chunked, with no Content-Length
            for n in range(lines):
                yield json.dumps({"item_id": f"b{n}", "title": "t" * 100}).encode() + b"\n"

        headers = {"content-type": "application/x-ndjson"}
        small = api.post("/v1/items/batch", content=ndjson(100), headers=headers)
        assert small.status_code == 200 and small.json()["accepted"] == 100, small.text
        streamed = api.post("/v1/items/batch", content=ndjson(1000), headers=headers)  # ~130 KB
        assert streamed.status_code == 413, streamed.text
        assert _error(streamed) == "body_too_large"


def test_a_burst_over_the_rate_limit_gets_429_with_retry_after(mesh: dict[str, App]) -> None:
    key, other = _tenant_key(mesh), _tenant_key(mesh)
    with httpx.Client(base_url=_public(mesh), timeout=30) as http:
        codes = [http.get("/v1/items", params={"limit": 1}, headers={"X-API-Key": key}).status_code for _ in range(5)]
        assert codes == [200] * BURST
        limited = http.get("/v1/items", params={"limit": 1}, headers={"X-API-Key": key})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 1 / RATE_PER_S
        assert _error(limited) == "rate_limited"
        # Buckets are per key: another tenant is not slowed down.
        assert http.get("/v1/items", params={"limit": 1}, headers={"X-API-Key": other}).status_code == 200
    # The gRPC API draws on the same bucket.
    with grpc.insecure_channel(_grpc_public(mesh)) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            api_pb2_grpc.LemoStub(channel).GetItem(
                api_pb2.GetItemRequest(item_id="m1"), metadata=(("x-api-key", key),), timeout=30
            )
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "retry-after" in dict(refused.value.trailing_metadata() or ())
