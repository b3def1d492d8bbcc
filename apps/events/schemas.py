"""Wire schemas of the events app: an event on its way in is the domain's Event (lemo/events.py, stamped with its
tenant by the gateway); a batch is up to MAX_BATCH of them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from lemo.events import Event

MAX_BATCH = 1000


class EventBatch(BaseModel):
    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH)
