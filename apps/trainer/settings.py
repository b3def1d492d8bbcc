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
    # The training-run watchdog (apps/trainer/watchdog.py): how often it looks at the open runs, how long a run's
    # progress may stand still before it is nudged to replay its history, and the cap on the doubling wait between
    # nudges of a run that stays still (a long training step). 0 turns the watchdog off.
    watchdog_interval_s: float = 5.0
    stall_nudge_s: float = 30.0
    stall_nudge_max_s: float = 600.0
    # The workflow worker connects this long after the app's first answered health probe, or this long after start
    # when no probe comes (apps/trainer/startup.py).
    worker_settle_s: float = 0.5
    worker_start_wait_s: float = 15.0
