"""Every API operation as a `Call`, once: the sync and the async client both send these, so a path, a parameter
or a retry rule is written in one place. Paths and bodies follow the gateway's routes (apps/gateway/)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from lemo_client.request import NDJSON, Call, call, ndjson, ndjson_line
from lemo_client.types import BatchResult

MAX_EVENTS_PER_BATCH = 1000  # the gateway refuses larger batches (413 batch_too_large)
MAX_REPORTED_ERRORS = 100

Row = Mapping[str, Any]


def _id(value: str) -> str:
    return quote(str(value), safe="")


# Recommendations


def recommend(user_id: str, scenario: str | None, count: int | None, mode: str | None, debug: bool) -> Call:
    params = {"scenario": scenario, "count": count, "mode": mode, "debug": debug or None}
    return call("GET", f"/v1/users/{_id(user_id)}/recommendations", params=params)


def similar_items(item_id: str, count: int) -> Call:
    return call("GET", f"/v1/items/{_id(item_id)}/similar", params={"count": count})


def popular_items(count: int) -> Call:
    return call("GET", "/v1/popular", params={"count": count})


# Items and users (kind: "items" or "users"; the two resources have the same shape)


def get(kind: str, key: str) -> Call:
    return call("GET", f"/v1/{kind}/{_id(key)}")


def put(kind: str, key: str, fields: Row) -> Call:
    return call("PUT", f"/v1/{kind}/{_id(key)}", json=dict(fields))


def patch(kind: str, key: str, fields: Row) -> Call:
    # A merge of the fields sent: applying it twice leaves what applying it once did, so it is retried.
    return call("PATCH", f"/v1/{kind}/{_id(key)}", json=dict(fields), safe=True)


def delete(kind: str, key: str) -> Call:
    return call("DELETE", f"/v1/{kind}/{_id(key)}")


def create_item(item: Row) -> Call:
    return call("POST", "/v1/items", json=dict(item))  # 409 if it exists: not retried


def page(kind: str, after: str | None, limit: int, total: bool, filters: Mapping[str, Any]) -> Call:
    params = {**filters, "after": after, "limit": limit, "total": total or None}
    return call("GET", f"/v1/{kind}", params=params)


def get_users(user_ids: Iterable[str]) -> Call:
    return call("POST", "/v1/users/batch-get", json={"user_ids": list(user_ids)}, safe=True)  # a read


def user_activity(user_id: str, limit: int) -> Call:
    return call("GET", f"/v1/users/{_id(user_id)}/activity", params={"limit": limit})


def realtime_features(user_id: str) -> Call:
    return call("GET", f"/v1/users/{_id(user_id)}/realtime")


def upsert_batch(kind: str, rows: Iterable[Row]) -> Call:
    """One NDJSON request of `rows`, held as bytes so it can be retried (upserts by id are idempotent)."""
    return call("POST", f"/v1/{kind}/batch", content=ndjson(rows), content_type=NDJSON, safe=True)


def upsert_stream(kind: str, rows: Iterable[Row]) -> Call:
    """One NDJSON request whose body is written as `rows` are read: any number of rows in constant memory, but a
    body that cannot be sent again, so it is not retried."""
    return call("POST", f"/v1/{kind}/batch", stream=(ndjson_line(r) for r in rows), content_type=NDJSON)


def chunks(rows: Iterable[Row], size: int) -> Iterator[tuple[int, list[Row]]]:
    """(offset, rows) of at most `size` rows each, read lazily."""
    it = iter(rows)
    offset = 0
    while chunk := list(itertools.islice(it, size)):
        yield offset, chunk
        offset += len(chunk)


def merge(total: BatchResult, part: BatchResult, offset: int) -> BatchResult:
    """`part` (the answer for rows from `offset` on) added to `total`, its error lines counted over all rows."""
    room = MAX_REPORTED_ERRORS - len(total["errors"])
    shifted = [{**e, "line": e["line"] + offset} if "line" in e else e for e in part.get("errors", [])[: max(0, room)]]
    return {
        "accepted": total["accepted"] + int(part["accepted"]),
        "rejected": total["rejected"] + int(part.get("rejected", 0)),
        "errors": total["errors"] + shifted,
    }


def empty_batch() -> BatchResult:
    return {"accepted": 0, "rejected": 0, "errors": []}


# Events


def with_event_id(event: Row) -> dict[str, Any]:
    """The event with an `event_id` (a new random one if it had none): the idempotency key that lets a retried
    send count once."""
    out = dict(event)
    if not out.get("event_id"):
        out["event_id"] = uuid.uuid4().hex
    return out


def track(event: Row) -> Call:
    return call("POST", "/v1/events", json=with_event_id(event), safe=True)


def track_batch(events: Iterable[Row]) -> Call:
    return call("POST", "/v1/events/batch", json={"events": [with_event_id(e) for e in events]}, safe=True)


def event_stats(since: float | None, until: float | None, type: str | None) -> Call:
    return call("GET", "/v1/events/stats", params={"since": since, "until": until, "type": type})


# Models, feeds, scenarios, the tenant


def train_model(options: Row) -> Call:
    return call("POST", "/v1/models/train", json=dict(options))  # a second send starts a second run


def training_run(run_id: str) -> Call:
    return call("GET", f"/v1/models/runs/{_id(run_id)}")


def model_versions(kind: str | None, limit: int) -> Call:
    return call("GET", "/v1/models", params={"kind": kind, "limit": limit})


def activate_model(kind: str, version: int) -> Call:
    return call("POST", f"/v1/models/{_id(kind)}/activate", json={"version": version}, safe=True)  # same version


def rollback_model(kind: str) -> Call:
    return call("POST", f"/v1/models/{_id(kind)}/rollback")  # twice would go back two versions


def refresh_feeds() -> Call:
    return call("POST", "/v1/feeds/refresh")


def feeds_refresh_run(run_id: str) -> Call:
    return call("GET", f"/v1/feeds/refresh/{_id(run_id)}")


def scenario(method: str, scenario_id: str | None = None, body: Row | None = None) -> Call:
    path = "/v1/scenarios" + (f"/{_id(scenario_id)}" if scenario_id else "")
    return call(method, path, json=dict(body) if body is not None else None)


def tenant_summary() -> Call:
    return call("GET", "/v1/tenant")


def status() -> Call:
    return call("GET", "/v1/status")


# Administration (the admin key)


def create_tenant(tenant_id: str, name: str) -> Call:
    return call("POST", "/v1/admin/tenants", json={"tenant_id": tenant_id, "name": name}, admin=True)


def create_key(tenant_id: str, scopes: Iterable[str] | None) -> Call:
    body = {"scopes": list(scopes)} if scopes is not None else {}
    return call("POST", f"/v1/admin/tenants/{_id(tenant_id)}/keys", json=body, admin=True)


def list_tenants(limit: int) -> Call:
    return call("GET", "/v1/admin/tenants", params={"limit": limit}, admin=True)


def dead_letters(tenant_id: str | None, limit: int) -> Call:
    return call("GET", "/v1/admin/deadletters", params={"tenant_id": tenant_id, "limit": limit}, admin=True)


def replay_dead_letters(tenant_id: str | None, limit: int) -> Call:
    # Replayed events keep their ids and the consumers apply an id once, so a resent replay counts once.
    params = {"tenant_id": tenant_id, "limit": limit}
    return call("POST", "/v1/admin/deadletters/replay", params=params, admin=True, safe=True)
