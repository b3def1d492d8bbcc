from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings


class TrainerSettings(LemoSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINER_", extra="ignore")

    popularity_settle_s: float = 0.0
    # The popularity cron (every 15 minutes) reruns a tenant whose archive took no new events only once its list is
    # this old: scores decay with time, but slowly (a week's half-life).
    popularity_max_age_s: float = 86_400.0
    # "cpu" or "cuda"; empty picks CUDA when torch sees a GPU.
    device: str = ""
    # Versions kept per model kind besides the active one; older ones lose their artifacts in the daily cleanup.
    keep_versions: int = 5
    # Run directories (exports) older than this are deleted by the daily cleanup.
    keep_runs_days: float = 7.0
