"""Wire schemas of the feeds app: a feed is the read path's Recommendation (lemo/serving/pipeline.py) and a run's
input is the recommend workflow's own (workflows/recommend.py), named here so routes read them from one module."""

from __future__ import annotations

from lemo.serving.pipeline import Recommendation
from workflows.recommend import RecommendRequest

__all__ = ["RecommendRequest", "Recommendation"]
