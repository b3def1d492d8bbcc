from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings
from lemo.serving.settings import ReadPathSettings


class FeedsSettings(LemoSettings, ReadPathSettings):
    """The feeds app's settings; the read path's section (stage app ids, deadlines: the workflow runs the gateway's
    stages) is lemo.serving.settings.ReadPathSettings, read here as FEEDS_RECALL_DEADLINE_S and so on."""

    model_config = SettingsConfigDict(env_prefix="FEEDS_", extra="ignore", populate_by_name=True)

    # A stored feed expires after this long (the state store's ttlInSeconds); the hourly warm-up renews it first.
    feed_ttl_s: int = Field(7200, ge=1)
    # A degraded feed (a stage failed or timed out while computing it) expires this soon instead, so cached reads
    # fall back to the online path and the next refresh replaces it rather than serving it for an hour.
    degraded_feed_ttl_s: int = Field(60, ge=1)
    # Items in a feed the app computes on its own (events, warm-up): enough for a few pages of the default count.
    feed_size: int = Field(50, ge=1, le=200)
    # How long `POST /feeds/...?wait=true` waits for the workflow before answering 504.
    wait_timeout_s: float = Field(5.0, gt=0)
    # The scenarios whose feeds events and the warm-up refresh.
    refresh_scenarios: list[str] = Field(default_factory=lambda: ["home"])
    # At most one refresh per user (and scenario) per this many seconds; events in between are folded into one
    # refresh at the end of the window.
    refresh_debounce_s: float = Field(30.0, ge=0)
    # An event newer than this makes its user active (a feed is computed); an older one (a backfill) refreshes
    # only users who already have a feed.
    refresh_active_s: float = Field(3600.0, ge=0)
    # Event-triggered refreshes started per second at most (a token bucket, bursts up to one second's worth): each
    # is a whole recommend workflow, and an ingest burst of many users would otherwise starve the online path and
    # the event consumers of CPU. Users over the budget wait for their next event or the hourly warm-up; 0: no cap.
    refresh_max_per_s: float = Field(5.0, ge=0)
    bulk_max_messages: int = 500
    bulk_max_await_ms: int = 500
    # The warm-up (hourly, and once after `make up`): every stored user (0: no window; a window in seconds: only
    # users the archive saw act within it, most recently active first), at most this many per tenant and per run.
    warmup_window_s: float = Field(0.0, ge=0)
    warmup_users_per_tenant: int = Field(20_000, ge=1)
    warmup_max_users: int = Field(50_000, ge=1)
    # Refreshes run as feed-refresh workflows of up to this many users, split into activities of
    # `refresh_users_per_activity` users (workflows/feed_refresh.py).
    refresh_batch_size: int = Field(100, ge=1, le=500)
    refresh_users_per_activity: int = Field(10, ge=1, le=500)
    # Users' read paths the feeds app runs at once across all runs (each one calls the stages in turn).
    refresh_feeds_at_once: int = Field(4, ge=1)
    # Finished workflow instances are purged this often (the feed itself is in the state store).
    purge_interval_s: float = Field(10.0, gt=0)
    # Workflows the app runs at once (activity work items); the rest queue in the sidecar.
    max_concurrent_activities: int = Field(16, ge=1)
