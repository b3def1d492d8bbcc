"""A separate Dapr app calling the platform through its own sidecar, as a tenant's service on Dapr would
(docs/ingest.md "Calling the platform through your sidecar"): HTTP service invocation of the gateway with the Dapr
Python SDK's invoke_method, and the public gRPC service lemoproto.v1.Lemo through the sidecar's gRPC proxy
(`dapr-app-id` metadata). Prints what came back as JSON; used by tests/integration/test_sidecar_callers.py.

    caller_app.py <gateway app id> <gateway gRPC app id> <tenant API key>
"""

from __future__ import annotations

import json
import os
import sys

import grpc
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprHttpError

from lemoproto.v1 import api_pb2, api_pb2_grpc


def main(gateway: str, gateway_grpc: str, api_key: str) -> int:
    out: dict[str, object] = {}
    with DaprClient() as client:
        put = client.invoke_method(
            gateway,
            "v1/items/sdk-1",
            data=json.dumps({"title": "via invoke_method"}),
            content_type="application/json",
            metadata=(("x-api-key", api_key),),
            http_verb="PUT",
        )
        got = client.invoke_method(gateway, "v1/items/sdk-1", metadata=(("x-api-key", api_key),), http_verb="GET")
        out["http"] = {"put": put.status_code, "get": got.status_code, "item": json.loads(got.data or b"null")}
        try:
            client.invoke_method(gateway, "v1/items/sdk-1", http_verb="GET")
            out["http_without_key"] = 200
        except DaprHttpError as exc:  # the SDK raises on an error status
            out["http_without_key"] = exc.status_code

    sidecar = f"127.0.0.1:{os.environ['DAPR_GRPC_PORT']}"
    with grpc.insecure_channel(sidecar) as channel:
        lemo = api_pb2_grpc.LemoStub(channel)
        via = (("dapr-app-id", gateway_grpc), ("x-api-key", api_key))
        item = lemo.UpsertItem(
            api_pb2.UpsertItemRequest(item=api_pb2.Item(item_id="grpc-1", title="via proxy")), metadata=via
        )
        back = lemo.GetItem(api_pb2.GetItemRequest(item_id="sdk-1"), metadata=via)
        out["grpc"] = {"upserted": item.item_id, "read": [back.item_id, back.title]}
        try:
            lemo.GetItem(api_pb2.GetItemRequest(item_id="sdk-1"), metadata=(("dapr-app-id", gateway_grpc),))
            out["grpc_without_key"] = "OK"
        except grpc.RpcError as exc:
            out["grpc_without_key"] = exc.code().name
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
