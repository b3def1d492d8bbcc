from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings
from lemo.event_counts import Retention


class EventsSettings(LemoSettings):
    model_config = SettingsConfigDict(env_prefix="EVENTS_", extra="ignore")

    publish_timeout_s: float = 5.0
    # The archive consumer takes events in large deliveries: one insert each.
    archive_bulk_max_messages: int = 1000
    archive_bulk_max_await_ms: int = 50
    # How long after a list is served an event naming its request id is attributed to it (docs/experiments.md):
    # one small state entry per served list lives this long.
    attribution_ttl_s: float = Field(86400.0, gt=0)
    # How long event and experiment count buckets are kept after the span they cover ends (docs/data-plane.md):
    # minute buckets answer windows to the minute, hour and day buckets to the hour and day; month buckets are
    # kept for good. Each level must be kept at least as long as the finer one.
    count_minute_retention_days: float = Field(8.0, gt=0)
    count_hour_retention_days: float = Field(100.0, gt=0)
    count_day_retention_days: float = Field(3 * 366.0, gt=0)

    def count_retention(self) -> Retention:
        days = (self.count_minute_retention_days, self.count_hour_retention_days, self.count_day_retention_days)
        minute_s, hour_s, day_s = (d * 86400 for d in days)
        return Retention(minute_s, hour_s, day_s)
