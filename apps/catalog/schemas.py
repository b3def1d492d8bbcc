"""Wire schemas of the catalog app."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lemo.events import Identifier


class ItemFields(BaseModel):
    """The writable fields of an item; all optional so a PUT body can update part of an item."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=1000)
    categories: list[Identifier] | None = Field(default=None, max_length=64)
    tags: list[str] | None = Field(default=None, max_length=256)
    attributes: dict[str, Any] | None = Field(default=None, max_length=128)
    published_at: datetime | None = None
    expires_at: datetime | None = None
    hidden: bool | None = None
