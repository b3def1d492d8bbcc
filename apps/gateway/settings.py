from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings


class GatewaySettings(LemoSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    # The apps /v1/status checks through their sidecars.
    mesh_apps: list[str] = Field(
        default_factory=lambda: ["events", "profiles", "catalog", "ranking", "trainer"]
    )
    status_timeout_s: float = 2.0
