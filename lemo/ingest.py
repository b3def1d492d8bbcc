"""Ingest topics: a tenant's own services publish events and item changes straight onto pub/sub.

Each tenant has its own topics, `ingest.<tenant>.events` and `ingest.<tenant>.items` (tenant ids are
`[a-z0-9][a-z0-9_-]*`, so the names are valid Kafka topic names and Redis stream keys, and `.` splits them one way
only). The tenant of a message is the topic it arrived on, never its body: a body naming another tenant is rejected
with `tenant_mismatch`; a body naming the topic's own tenant is accepted (that field is dropped).

A message is one event (the body of `POST /v1/events`) or one item change, as raw JSON or as a CloudEvent whose
`data` carries it. It passes the same validation as the HTTP API (lemo.events.event_for_tenant, lemo.catalog.Item);
an invalid one is answered with a machine-readable `Rejection`, which the consuming app records per tenant.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from lemo.catalog import MAX_BATCH_LINE_BYTES, Item
from lemo.events import Event, event_for_tenant
from lemo.tenancy import validate_tenant_id

INGEST_PREFIX = "ingest"
# One message is at most what one line of the items batch API may be (an event is far smaller).
MAX_MESSAGE_BYTES = MAX_BATCH_LINE_BYTES
# The part of a rejected message kept with its error record.
EXCERPT_BYTES = 512


class IngestKind(StrEnum):
    EVENTS = "events"
    ITEMS = "items"


def ingest_topic(tenant_id: str, kind: IngestKind) -> str:
    return f"{INGEST_PREFIX}.{validate_tenant_id(tenant_id)}.{kind.value}"


def topic_tenant(topic: str) -> tuple[str, IngestKind] | None:
    """(tenant, kind) of an ingest topic name; None for any other name."""
    parts = topic.split(".")
    if len(parts) != 3 or parts[0] != INGEST_PREFIX:
        return None
    try:
        return validate_tenant_id(parts[1]), IngestKind(parts[2])
    except ValueError:
        return None


@dataclass(frozen=True)
class Rejection(Exception):
    """Why a message was not taken: `code` is machine-readable, `errors` are pydantic's where validation failed."""

    code: str
    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "errors": self.errors}


def excerpt(raw: bytes) -> str:
    return raw[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def payload_of(raw: bytes) -> Any:
    """The JSON a publisher sent: a CloudEvent's `data` (or `data_base64`), or the message itself when it is raw
    JSON. Raises Rejection `too_large` or `invalid_json`."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise Rejection("too_large", f"a message is at most {MAX_MESSAGE_BYTES} bytes; this one is {len(raw)}")
    try:
        message = json.loads(raw)
        if isinstance(message, dict) and "specversion" in message:
            if "data_base64" in message:
                return json.loads(base64.b64decode(message["data_base64"]))
            data = message.get("data")
            # A CloudEvent publisher may have sent the JSON as a string (content type text/plain).
            return json.loads(data) if isinstance(data, str) else data
        return message
    except (ValueError, TypeError) as exc:
        raise Rejection("invalid_json", f"not JSON: {str(exc)[:200]}") from exc


def _own_tenant(tenant_id: str, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise Rejection("invalid_json", "a message is one JSON object")
    claimed = payload.get("tenant_id")
    if claimed is None:
        return payload
    if claimed != tenant_id:
        raise Rejection("tenant_mismatch", "the body names another tenant than the topic; the topic decides")
    return {k: v for k, v in payload.items() if k != "tenant_id"}


def _invalid(code: str, exc: ValidationError) -> Rejection:
    return Rejection(
        code,
        str(exc).splitlines()[0],
        [dict(e) for e in exc.errors(include_url=False, include_input=False, include_context=False)],
    )


def event_of(tenant_id: str, payload: Any) -> Event:
    """The event a message carries, validated as `POST /v1/events` validates it. Without an `event_id`, the id is
    derived from the message's content, so a redelivery of the same message counts once (send one to be sure)."""
    body = _own_tenant(tenant_id, payload)
    if "event_id" not in body:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        body = {**body, "event_id": "m-" + hashlib.sha256(f"{tenant_id}\n{canonical}".encode()).hexdigest()[:32]}
    try:
        return event_for_tenant(tenant_id, body)
    except ValidationError as exc:
        raise _invalid("invalid_event", exc) from exc
    except TypeError as exc:
        raise Rejection("invalid_event", str(exc)) from exc


@dataclass(frozen=True)
class ItemChange:
    """An upsert carries the item (fields not named stay as stored); a delete only its id."""

    op: str  # "upsert" | "delete"
    item_id: str
    fields: dict[str, Any] = field(default_factory=dict)


def item_change_of(tenant_id: str, payload: Any) -> ItemChange:
    """An item change: an item as in the items batch API (upsert), `{"op": "upsert", "item": {...}}`, or
    `{"op": "delete", "item_id": "..."}`."""
    body = _own_tenant(tenant_id, payload)
    op = body.get("op", "upsert")
    if op == "delete":
        if set(body) - {"op", "item_id"}:
            raise Rejection("invalid_item", "a delete carries only op and item_id")
        item = body
    elif op == "upsert":
        item = _own_tenant(tenant_id, body["item"]) if "op" in body and "item" in body else body
        if "op" in body and set(body) != {"op", "item"}:
            raise Rejection("invalid_item", "an upsert with op carries the item under 'item'")
    else:
        raise Rejection("invalid_item", f"op is upsert or delete, not {str(op)[:40]!r}")
    try:
        if op == "delete":
            return ItemChange("delete", Item.model_validate({"item_id": item.get("item_id")}).item_id)
        parsed = Item.model_validate(item)
    except ValidationError as exc:
        raise _invalid("invalid_item", exc) from exc
    return ItemChange("upsert", parsed.item_id, parsed.model_dump(exclude_unset=True, exclude={"item_id"}))
