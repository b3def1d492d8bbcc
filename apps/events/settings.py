from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings


class EventsSettings(LemoSettings):
    model_config = SettingsConfigDict(env_prefix="EVENTS_", extra="ignore")

    publish_timeout_s: float = 5.0
    # The archive consumer takes events in large deliveries: one insert each.
    archive_bulk_max_messages: int = 1000
    archive_bulk_max_await_ms: int = 50
    # How long after a list is served an event naming its request id is attributed to it (docs/experiments.md):
    # one small state entry per served list lives this long.
    attribution_ttl_s: float = Field(86400.0, gt=0)
