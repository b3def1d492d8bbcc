"""Recommendation models: recall channels (which items could interest a user) and learned rankers (in which
order), trained offline from archived events and served by the recall and ranking apps.

Everything a caller needs is re-exported here; see docs/evaluation.md for how well each kind does.
"""

from lemo.models.base import Model, RankerModel, RecallModel
from lemo.models.data import EVENT_WEIGHTS, Interaction, ItemMeta, TrainingData, UserMeta, interactions_from_events
from lemo.models.factory import (
    FUSED_CHANNELS,
    MODEL_KINDS,
    RANKER_KINDS,
    RECALL_KINDS,
    SMALL_TENANT_INTERACTIONS,
    fused_channels,
    load_model,
    train_model,
    train_recall,
)
from lemo.models.rankers import RankingExamples
from lemo.models.text import TEXT_DIM, embed_items

__all__ = [
    "EVENT_WEIGHTS",
    "FUSED_CHANNELS",
    "MODEL_KINDS",
    "RANKER_KINDS",
    "RECALL_KINDS",
    "SMALL_TENANT_INTERACTIONS",
    "TEXT_DIM",
    "Interaction",
    "ItemMeta",
    "Model",
    "RankerModel",
    "RankingExamples",
    "RecallModel",
    "TrainingData",
    "UserMeta",
    "embed_items",
    "fused_channels",
    "interactions_from_events",
    "load_model",
    "train_model",
    "train_recall",
]
