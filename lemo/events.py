"""Behavior events: the schema every producer and consumer of the events topic agrees on."""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from lemo.documents import Document

# Ids travel in actor ids, state keys and URLs: keep them to a safe, bounded alphabet.
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@\-]+$")]

# Events may be stamped by a client whose clock runs slightly ahead of ours.
FUTURE_SKEW_S = 300.0


class EventType(StrEnum):
    IMPRESSION = "impression"
    VIEW = "view"
    CLICK = "click"
    LIKE = "like"
    DISLIKE = "dislike"
    RATE = "rate"
    PURCHASE = "purchase"
    SHARE = "share"


# "a rate event needs a value" in the JSON Schema too, so the OpenAPI document states the rule the validator keeps.
_RATE_NEEDS_VALUE: JsonDict = {
    "if": {"properties": {"type": {"const": "rate"}}, "required": ["type"]},
    "then": {"properties": {"value": {"type": "number"}}, "required": ["value"]},
}


class EventFields(BaseModel):
    """An event's fields and their types: what every hop decodes, in pydantic's core, without the edge's rules."""

    model_config = ConfigDict(extra="forbid")

    event_id: Identifier = Field(default_factory=lambda: uuid.uuid4().hex)
    user_id: Identifier
    item_id: Identifier
    type: EventType
    # Strict: a boolean or a numeric string is a client bug, not a number (an int is one).
    value: float | None = Field(None, allow_inf_nan=False, strict=True)
    timestamp: float = Field(
        default_factory=time.time,
        ge=0,
        strict=True,
        description=f"unix seconds; at most {FUTURE_SKEW_S:.0f} s ahead of the server's clock (default: now)",
    )
    scenario: Identifier | None = None
    variant: Identifier | None = None
    context: Document = Field(default_factory=dict, max_length=32)


class EventBody(EventFields):
    """One user behavior on one item, as a tenant's client sends it; `event_id` is the idempotency key."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_RATE_NEEDS_VALUE)

    # The edge's rules: checked once, where an event comes in (the gateway's HTTP and gRPC APIs, the ingest topics).
    @field_validator("timestamp")
    @classmethod
    def _not_in_future(cls, ts: float) -> float:
        if ts > time.time() + FUTURE_SKEW_S:
            raise ValueError(f"timestamp is more than {FUTURE_SKEW_S:.0f}s in the future")
        return ts

    @model_validator(mode="after")
    def _rating_has_value(self) -> EventBody:
        if self.type is EventType.RATE and self.value is None:
            raise ValueError("a rate event needs a value")
        return self


class Event(EventFields):
    """An event on the events topic: a validated body plus the tenant the gateway resolved from the API key.

    Only the platform's apps publish on the events topic, and every event on it passed `EventBody`'s rules where it
    came in, so decoding one (a topic delivery, an actor message) checks the schema alone, in pydantic's core: a
    relative rule such as "not in the future" is not asked again at every hop (docs/data-plane.md, "One
    validation")."""

    tenant_id: Identifier
    # When the events app took it (its clock, strictly increasing per process): the realtime profile's dedupe
    # order (lemo/realtime/dedupe.py). Set by the events app only; None for events published straight to the topic.
    accepted_at: float | None = None

    @property
    def actor_id(self) -> str:
        """The per-user actor id; tenant first, so no two tenants ever share an actor."""
        return user_actor_id(self.tenant_id, self.user_id)

    @classmethod
    def of(cls, tenant_id: str, body: EventBody) -> Event:
        """The topic's event for a body validated at the edge, owned by `tenant_id` (the caller's resolved tenant):
        its fields taken as they are, nothing checked twice."""
        return cls.model_construct(tenant_id=tenant_id, **{name: getattr(body, name) for name in _BODY_FIELDS})


_BODY_FIELDS = tuple(EventFields.model_fields)


def event_for_tenant(tenant_id: str, body: Any) -> Event:
    """The event a tenant's client sent (`EventBody` fields), owned by `tenant_id`: the one validation every way in
    shares (the HTTP and gRPC APIs, the ingest topics). Raises pydantic's ValidationError, or TypeError when the
    body is not an object."""
    return Event.of(tenant_id, EventBody.model_validate(body))


def user_actor_id(tenant_id: str, user_id: str) -> str:
    return f"{tenant_id}:{user_id}"
