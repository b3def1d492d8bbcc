from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings


class CatalogSettings(LemoSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore")
