"""The read path's settings section: the stages' app ids and deadlines, declared once.

Apps that run the read path (gateway, feeds) mix `ReadPathSettings` into their own settings class, so each reads
the same fields under its own env prefix (GATEWAY_RECALL_DEADLINE_S, FEEDS_RECALL_DEADLINE_S), and hand the
pipeline only this section (`ReadPathSettings.section(settings)`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ReadPathSettings(BaseModel):
    # The stages, by Dapr app id.
    profiles_app: str = "profiles"
    recall_app: str = "recall"
    ranking_app: str = "ranking"
    rerank_app: str = "rerank"
    # Seconds each stage may take before the pipeline goes on without it.
    profile_deadline_s: float = Field(0.1, gt=0)
    recall_deadline_s: float = Field(0.3, gt=0)
    ranking_deadline_s: float = Field(0.2, gt=0)
    rerank_deadline_s: float = Field(0.1, gt=0)
    popular_deadline_s: float = Field(0.1, gt=0)
    # Seconds a scenario configuration is cached (a change is live everywhere within this time).
    scenario_cache_ttl_s: float = Field(5.0, ge=0)

    @classmethod
    def section(cls, settings: Any) -> ReadPathSettings:
        """This section of an app's settings (an object carrying these fields)."""
        return cls.model_validate({name: getattr(settings, name) for name in cls.model_fields})
