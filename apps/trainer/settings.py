from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings


class TrainerSettings(LemoSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINER_", extra="ignore")

    popularity_settle_s: float = 0.0
