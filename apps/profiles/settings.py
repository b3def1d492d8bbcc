from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings


class ProfilesSettings(LemoSettings):
    model_config = SettingsConfigDict(env_prefix="PROFILES_", extra="ignore")

    # Idle actors leave memory after this long; their state stays in the actor state store.
    actor_idle_timeout_s: float = 3600.0
    actor_scan_interval_s: float = 30.0
    # A user's realtime profile is dropped from the actor state store this long after their last event (90 days;
    # 0 keeps it for good): inactive users stop costing store memory, and come back as new users.
    actor_state_ttl_s: int = Field(90 * 24 * 3600, ge=0)
    # How often buffered item-popularity increments are written to the popularity actors.
    hot_flush_s: float = 1.0
    # Events are delivered in bulk: up to this many, or whatever arrived within the wait.
    bulk_max_messages: int = 1000
    bulk_max_await_ms: int = 50
    # Actor turns in flight at once, across deliveries. Each turn is also a request into this app (the sidecar
    # calls the actor here), so a delivery's thousand turns at once queued the health probe past its timeout and
    # the sidecar took the app, and its actor types, out of service.
    actor_call_concurrency: int = Field(32, ge=1)
    # The per-tenant catalog snapshot that gives events their items' categories and tags is read again this often
    # (item changes on the items topic apply at once; the rebuild only catches changes that topic missed).
    item_features_refresh_s: float = 600.0
    # A user's stored attributes are kept in memory this long for the read path (apps/profiles/attributes.py);
    # writes through this replica forget them at once.
    attributes_cache_s: float = Field(60.0, ge=0)
