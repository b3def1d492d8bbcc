"""Settings shared by all apps; each app subclasses with its own env prefix (== app name)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Component `metadata.name` values, in one place (the YAML under components/ uses the same names).
STATE_STORE = "statestore"
PUBSUB = "pubsub"
EVENTS_TOPIC = "events"
EVENTS_DEAD_LETTER_TOPIC = "events-deadletter"
# One record per served list (lemo/exposures.py), from the gateway; archived by events, folded in by profiles.
EXPOSURES_TOPIC = "exposures"
ITEMS_TOPIC = "items"
MODELS_TOPIC = "models"
CRON_POPULARITY = "cron-popularity"
CRON_TRAIN = "cron-train"
CRON_CLEANUP = "cron-cleanup"
CRON_FEEDS = "cron-feeds"


def _shared(name: str) -> AliasChoices:
    # Shared settings keep their LEMO_ name in every app, whatever the app's own env prefix.
    return AliasChoices(f"LEMO_{name.upper()}", name)


class LemoSettings(BaseSettings):
    """Settings every app has, read from LEMO_* environment variables; each app subclasses this with its own
    env prefix (== app name) for its own settings."""

    model_config = SettingsConfigDict(env_prefix="LEMO_", extra="ignore", populate_by_name=True)

    pubsub_name: str = Field(PUBSUB, validation_alias=_shared("pubsub_name"))
    state_store: str = Field(STATE_STORE, validation_alias=_shared("state_store"))
    mongodb_uri: str = Field("mongodb://127.0.0.1:27018/", validation_alias=_shared("mongodb_uri"))
    mongodb_database: str = Field("lemo", validation_alias=_shared("mongodb_database"))
    archive_retention_days: float = Field(365.0, validation_alias=_shared("archive_retention_days"))
    # Served lists (exposures) are kept this long after they were served; unset: as long as events.
    exposure_retention_days: float = Field(0.0, ge=0, validation_alias=_shared("exposure_retention_days"))
    log_level: str = Field("INFO", validation_alias=_shared("log_level"))
    # Where training runs keep exports and model artifacts (a local directory; relative to the working dir).
    artifact_uri: str = Field(".state/artifacts", validation_alias=_shared("artifact_uri"))
    # Item vectors: empty keeps each run's vectors in a Milvus Lite file beside its artifacts; an http(s) URI
    # names a Milvus server.
    milvus_uri: str = Field("", validation_alias=_shared("milvus_uri"))

    @model_validator(mode="after")
    def _exposures_kept_like_events(self) -> LemoSettings:
        if not self.exposure_retention_days:
            self.exposure_retention_days = self.archive_retention_days
        return self


def shared_settings() -> LemoSettings:
    return LemoSettings()
