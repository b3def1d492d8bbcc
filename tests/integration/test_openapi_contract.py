"""The gateway's /openapi.json tells the truth, so clients generated from it work.

Schemathesis runs every phase (examples, coverage, fuzzing, stateful) with every check against the real gateway
(real sidecars, the real catalog, profiles, events and trainer apps behind it), as `schemathesis run
.../openapi.json -c all` does, and the test fails on any failure it reports. docs/api.md ("The contract test")
lists what is excluded below and why.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import ADMIN_KEY
from tests.integration.mesh import App

# Examples per operation and phase; derandomized (seed), so every run sends the same cases.
EXAMPLES = int(os.environ.get("LEMO_CONTRACT_EXAMPLES", "5"))

# Checks switched off for every operation, with the reason. Empty: every check runs.
EXCLUDED_CHECKS: dict[str, str] = {}

# Checks switched off for some operations only: (regex of "METHOD /path", check) -> the reason.
EXCLUDED_FOR: dict[tuple[str, str], str] = {
    ("^[A-Z]+ /v1/feeds/", "not_a_server_error"): "the feeds app is not started here (gateway_mesh leaves the read "
    "path's stage apps out); the routes answer the declared 503 upstream_unavailable; test_feeds.py covers them",
    ("^GET /v1/items/[^/]+/similar$", "not_a_server_error"): "the recall app is not started here; the route answers "
    "the declared 503 upstream_unavailable; test_recall.py covers it",
    ("^POST /v1/(items|users)/batch$", "negative_data_rejection"): "an NDJSON batch is taken line by line: a line "
    "off the schema is reported with its number in the 200 answer and the other lines are kept, by design",
    ("^GET /v1/(events/stats|experiments|scenarios/[^/]+/metrics)$", "positive_data_acceptance"): "`since` must "
    "be before `until` (and the metrics' window must start where its interval's buckets are still kept): rules "
    "across parameters, which JSON Schema cannot state; each is a 422 naming the rule",
    ("^POST /v1/events$", "positive_data_acceptance"): "an event's timestamp may be at most 300 s ahead of the "
    "server's clock (its description says so): a bound that moves with the clock, which JSON Schema cannot state",
    ("^GET /v1/preview$", "positive_data_acceptance"): "`variant` must name a variant of the scenario's "
    "experiment (422 unknown_variant): a fact of the tenant's data, not of the schema",
    ("^PUT /v1/scenarios/[^/]+$", "positive_data_acceptance"): "rules across fields that JSON Schema cannot state "
    "(unique channel, experiment and variant ids, one enabled channel, traffic summing to 100, the body's "
    "scenario_id equal to the path's): the Scenario schema's description lists them; each is a 422 naming the rule",
}

# The admin routes (X-Admin-Key) run in a pass of their own with the admin key, except these, which would change
# the platform under the test's feet: revoking keys could revoke the tenant key the other pass uses.
ADMIN_PATHS = "^/v1/admin/"
ADMIN_SKIPPED = "^/v1/admin/tenants/[^/]+/keys/[^/]+$"


def _ndjson(_: Any, value: Any) -> bytes:
    """The body of an `application/x-ndjson` operation: the generated array's elements, one JSON document a line
    (apps/gateway/openapi.py, ndjson_request_body); anything else as one line."""
    lines = value if isinstance(value, list) else [value]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _schema(
    base: str,
    document: dict[str, Any],
    paths: Callable[[str], bool],
    headers: dict[str, str] | None = None,
    auth: dict[str, Any] | None = None,
) -> Any:
    """The document cut to `paths`, to run with `headers` or `auth` (schemathesis's `[auth]` section)."""
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    config = SchemathesisConfig.from_dict(
        {
            "base-url": base,
            **({"headers": headers} if headers else {}),
            **({"auth": auth} if auth else {}),
            "seed": 1,
            # No state kept between runs (schemathesis would keep which identity each operation settled on under
            # .schemathesis/), so every run starts alike.
            "cache": {"enabled": False},
            "request-timeout": 30,
            "generation": {"max-examples": EXAMPLES, "database": "none"},
            "checks": {"enabled": True, **{name: {"enabled": False} for name in EXCLUDED_CHECKS}},
            "operations": [
                {"include-name-regex": name, "checks": {check: {"enabled": False}}} for name, check in EXCLUDED_FOR
            ],
        }
    )
    kept = {**document, "paths": {path: ops for path, ops in document["paths"].items() if paths(path)}}
    return schemathesis.openapi.from_dict(kept, config=config)


def _run(schema: Any) -> tuple[int, list[str], int]:
    """Runs the schemathesis engine over `schema`: (cases sent, one line per distinct failure, requests replayed as
    the peer tenant by `object_level_authorization`)."""
    from schemathesis.engine import Status, events, from_schema

    cases = peer_reads = 0
    found: dict[tuple[str, str, str], str] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if not isinstance(event, events.ScenarioFinished):
            continue
        cases += len(event.recorder.cases)
        peer_reads += sum(node.value.auth_identity == "peer" for node in event.recorder.cases.values())
        for case_id, checks in event.recorder.checks.items():
            for check in checks:
                if check.status is Status.FAILURE and check.failure_info is not None:
                    failure = check.failure_info.failure
                    key = (event.recorder.label, check.name, failure.title)
                    answer = event.recorder.interactions.get(case_id)
                    got = (
                        f"{answer.response.status_code} {answer.response.content!r:.300}"
                        if answer and answer.response
                        else ""
                    )
                    found.setdefault(
                        key, f"{key}: {failure.message[:400]}\n{check.failure_info.code_sample[:600]}\n-> {got}"
                    )
    return cases, list(found.values()), peer_reads


def _tenant_key(base: str) -> str:
    """A new tenant's API key."""
    created = httpx.post(
        f"{base}/v1/admin/tenants",
        json={"tenant_id": f"t{uuid.uuid4().hex[:10]}"},
        headers={"X-Admin-Key": ADMIN_KEY},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["api_key"])


def _two_tenants(base: str, path: Path) -> dict[str, Any]:
    """Schemathesis's `[auth.wfc]` section for two tenants that must not see each other's objects: the cases run as
    the first; `object_level_authorization` replays every read of the first's objects as the second (Web Fuzzing
    Commons authentication document, fixed `X-API-Key` headers)."""
    users = [
        {"name": name, "fixedHeaders": [{"name": "X-API-Key", "value": _tenant_key(base)}]}
        for name in ("owner", "peer")
    ]
    path.write_text(json.dumps({"schemaVersion": "1.0.0", "auth": users}))
    return {"wfc": {"path": str(path), "peers": ["owner", "peer"]}}


@pytest.mark.timeout(600)
def test_gateway_answers_as_its_openapi_document_says(gateway_mesh: App, tmp_path: Path) -> None:
    import schemathesis

    schemathesis.serializer("application/x-ndjson")(_ndjson)
    base = f"http://127.0.0.1:{gateway_mesh.app_port}"
    document = httpx.get(f"{base}/openapi.json", timeout=30).json()
    tenant_pass = _schema(
        base, document, lambda path: not re.match(ADMIN_PATHS, path), auth=_two_tenants(base, tmp_path / "auth.json")
    )
    admin_pass = _schema(
        base,
        document,
        lambda path: bool(re.match(ADMIN_PATHS, path)) and not re.match(ADMIN_SKIPPED, path),
        headers={"X-Admin-Key": ADMIN_KEY},
    )
    started = time.monotonic()
    cases, failures, peer_reads = _run(tenant_pass)
    admin_cases, admin_failures, _ = _run(admin_pass)
    print(
        f"\nschemathesis: {cases} tenant and {admin_cases} admin cases in {time.monotonic() - started:.0f} s, "
        f"{peer_reads} of them reads replayed as the other tenant, {len(failures) + len(admin_failures)} failures"
    )
    assert cases > 300 and admin_cases > 30, "schemathesis generated almost nothing"
    assert peer_reads > 10, "object_level_authorization replayed (almost) no read as the other tenant"
    assert not failures + admin_failures, "\n\n".join(failures + admin_failures)
