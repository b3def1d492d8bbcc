from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings


class EventsSettings(LemoSettings):
    model_config = SettingsConfigDict(env_prefix="EVENTS_", extra="ignore")

    publish_timeout_s: float = 5.0
    # The archive consumer takes events in large deliveries: one insert each.
    archive_bulk_max_messages: int = 1000
    archive_bulk_max_await_ms: int = 50
