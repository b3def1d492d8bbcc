from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings


class RankingSettings(LemoSettings):
    model_config = SettingsConfigDict(env_prefix="RANKING_", extra="ignore")

    app_port: int = 50101
    listen_address: str = "127.0.0.1"
