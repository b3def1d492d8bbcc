"""The gateway's OpenAPI document declares what its routes answer (apps/gateway/openapi.py); the integration test
tests/integration/test_openapi_contract.py holds the running gateway to it."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI

from apps.gateway.routers import ROUTERS


def _document() -> dict[str, Any]:
    app = FastAPI()
    for router in ROUTERS:
        app.include_router(router)
    return app.openapi()


def test_every_tenant_route_declares_its_errors_with_the_envelope_and_its_key() -> None:
    document = _document()
    for path, operations in document["paths"].items():
        if path == "/v1/status":  # public: it answers 200 or 503 with its own body
            continue
        for method, operation in operations.items():
            errors = {"401", "403", "413", "422", "503"} | (set() if path.startswith("/v1/admin") else {"429"})
            assert errors <= set(operation["responses"]), f"{method} {path}"
            for code in errors:
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, f"{method} {path} {code}"
            assert operation["security"], f"{method} {path}"
    assert set(document["components"]["securitySchemes"]) == {"TenantKey", "AdminKey"}


def test_batches_take_ndjson_and_every_reference_resolves() -> None:
    document = _document()
    for path in ("/v1/items/batch", "/v1/users/batch"):
        body = document["paths"][path]["post"]["requestBody"]
        assert list(body["content"]) == ["application/x-ndjson"]
        assert "415" in document["paths"][path]["post"]["responses"]
    named = set(document["components"]["schemas"])
    used = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document)))
    assert used <= named, used - named
