"""Offline evaluation: metrics, the fixed protocol, and the `lemo eval` command."""

from lemo.evaluation.metrics import classification_metrics, ndcg_at_k, ranking_metrics
from lemo.evaluation.protocol import evaluate_pipeline, evaluate_ranker, evaluate_recall

__all__ = [
    "classification_metrics",
    "evaluate_pipeline",
    "evaluate_ranker",
    "evaluate_recall",
    "ndcg_at_k",
    "ranking_metrics",
]
