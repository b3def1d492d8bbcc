from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings


class RankingSettings(LemoSettings):
    model_config = SettingsConfigDict(env_prefix="RANKING_", extra="ignore")

    app_port: int = 8084
    listen_address: str = "127.0.0.1"
    max_workers: int = 10
    # A served tenant's active versions are re-read from the registry at most this often, so a missed models
    # event heals within it (an event reloads at once).
    registry_refresh_s: float = 30.0
    # Active rankers loaded at start-up (the most recently activated first); 0 loads on first use only.
    preload_versions: int = 200
    # Prometheus text on this port (a gRPC app has no HTTP routes of its own); 0 turns it off.
    metrics_port: int = 0
    # The first request for a tenant's ranker waits this long for it to load; later ones never wait (they get the
    # previous version while a newer one loads). Past it the request is scored by `weighted`, which says so.
    first_load_wait_s: float = 2.0
    # Scoring is one small forward pass per request on the gRPC worker threads: extra intra-op threads only contend.
    torch_threads: int = 1
