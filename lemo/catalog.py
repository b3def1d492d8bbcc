"""Items: the fields a tenant may set, shared by the public API and the catalog app."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, WithJsonSchema

from lemo.documents import Document
from lemo.events import Identifier

Tag = Field(min_length=1, max_length=100)

# Unix seconds up to here; pydantic would read larger numbers as milliseconds.
MAX_UNIX_SECONDS = 1e10


def _instant(value: Any) -> Any:
    """Only what the schema says: an ISO 8601 date-time or unix seconds. Pydantic alone also takes booleans and
    numeric strings, which hide a client's bug."""
    if isinstance(value, bool):
        raise ValueError("an ISO 8601 date-time or unix seconds, not a boolean")
    if isinstance(value, int | float) and not 0 <= value <= MAX_UNIX_SECONDS:
        raise ValueError(f"unix seconds in 0..{MAX_UNIX_SECONDS:.0f}")
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("an ISO 8601 date-time") from None
    return value


# A point in time as the API takes it (published_at, expires_at).
Instant = Annotated[
    datetime,
    BeforeValidator(_instant),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "number", "minimum": 0, "maximum": MAX_UNIX_SECONDS, "description": "unix seconds"},
            ]
        }
    ),
]


class ItemFields(BaseModel):
    """Writable item fields; all optional so one body serves create, full and partial updates."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=1000)
    categories: list[Identifier] | None = Field(default=None, max_length=64)
    tags: list[str] | None = Field(default=None, max_length=256)
    attributes: Document | None = Field(default=None, max_length=128)
    published_at: Instant | None = None
    expires_at: Instant | None = None
    hidden: StrictBool | None = None


class Item(ItemFields):
    """An item as sent in a create or batch body: the fields plus its id."""

    item_id: Identifier


MAX_BATCH_LINE_BYTES = 64 * 1024


def epoch_seconds(value: Any) -> float | None:
    """A stored date as epoch seconds: BSON dates (catalog writes), ISO strings (bulk loads) or numbers; naive
    dates are UTC."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()
    return None
