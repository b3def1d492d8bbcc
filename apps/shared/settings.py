"""Settings shared by all apps; each app subclasses with its own env prefix (== app name)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

# Component `metadata.name` values, in one place (the YAML under components/ uses the same names).
STATE_STORE = "statestore"
PUBSUB = "pubsub"
EVENTS_TOPIC = "events"
EVENTS_DEAD_LETTER_TOPIC = "events-deadletter"
ITEMS_TOPIC = "items"
CRON_POPULARITY = "cron-popularity"


class LemoSettings(BaseSettings):
    """Settings every app has, read from LEMO_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="LEMO_", extra="ignore")

    pubsub_name: str = PUBSUB
    state_store: str = STATE_STORE
    mongodb_uri: str = "mongodb://127.0.0.1:27018/"
    mongodb_database: str = "lemo"
    log_level: str = "INFO"


def shared_settings() -> LemoSettings:
    return LemoSettings()
