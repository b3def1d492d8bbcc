"""What the gateway's OpenAPI document states beyond the routes' signatures: the error answers every route can give
(one envelope, apps/shared/errors.py) and the request bodies that are not JSON (NDJSON batches).

tests/integration/test_openapi_contract.py holds the document to the gateway's answers with every schemathesis
check, so a status, media type or field a route answers must be declared here or in the route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from apps.gateway.downstream import NDJSON
from apps.shared.errors import error_responses

# Every route a tenant key calls: 400 malformed JSON, or the admin key without X-Tenant-Id; 401 no or a bad key;
# 403 scope or tenant mismatch; 404 the resource, or the tenant the admin key names; 413 the body-size cap; 422 a
# request off the schema; 429 the key's rate limit; 503 an app behind the gateway does not answer.
TENANT_ERRORS = error_responses(400, 401, 403, 404, 413, 422, 429, 503)
# The admin routes (X-Admin-Key): no per-key rate limit; 403 when the gateway has no admin key configured.
ADMIN_ERRORS = error_responses(400, 401, 403, 404, 413, 422, 503)


def ndjson_request_body(line: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra=` for a route that streams an NDJSON body: one `line` object per line. Sequential media types
    are described as an array of the lines (the OpenAPI 3.1 convention); the route reads the body itself."""
    schema = line.model_json_schema(ref_template="#/components/schemas/{model}")
    # The definitions it names (a Document's stored values) are the document's components already: the JSON routes
    # taking the same fields put them there; a reference that did not resolve would fail the contract test.
    schema.pop("$defs", None)
    return {
        "requestBody": {
            "required": True,
            "description": f"NDJSON: one {line.__name__} per line (each element of the array on a line of its own); "
            "a line that is not one is reported in the answer, the others are taken",
            "content": {NDJSON: {"schema": {"type": "array", "items": schema}}},
        }
    }
