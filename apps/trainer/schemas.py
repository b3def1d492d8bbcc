"""Wire schemas of the trainer app's routes: what starts a popularity run (the workflow's own input), a training
run's options and an activation (lemo/registry.py, which the gateway's /v1/models API validates with too)."""

from __future__ import annotations

from lemo.registry import ActivateBody, TrainOptions
from workflows.popularity import PopularityRequest

__all__ = ["ActivateBody", "PopularityRequest", "TrainOptions"]
