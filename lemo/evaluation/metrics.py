"""Offline metrics with the definitions the published MovieLens numbers use: binary relevance, top-k lists.

NDCG@k = DCG / IDCG with DCG = sum over hits at rank r (1-based) of 1 / log2(r + 1), and IDCG the DCG of
min(|relevant|, k) hits at the top. Precision@k = hits / k, Recall@k = hits / |relevant|, HR@k = 1 if any hit.
Each is averaged over users with at least one relevant item; coverage = distinct recommended items / catalog.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score


def ndcg_at_k(recommended: Sequence[str], relevant: Collection[str], k: int) -> float:
    dcg = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(recommended[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def ranking_metrics(
    recommendations: Sequence[Sequence[str]], relevant: Sequence[Collection[str]], k: int, catalog_size: int
) -> dict[str, float]:
    """Mean NDCG@k, Precision@k, Recall@k, HR@k over users with relevant items, and catalog coverage."""
    ndcg, precision, recall, hit = [], [], [], []
    shown: set[str] = set()
    for recommended, truth in zip(recommendations, relevant, strict=True):
        top = list(recommended[:k])
        shown.update(top)
        if not truth:
            continue
        hits = sum(1 for item in top if item in truth)
        ndcg.append(ndcg_at_k(top, truth, k))
        precision.append(hits / k)
        recall.append(hits / len(truth))
        hit.append(1.0 if hits else 0.0)
    return {
        f"ndcg@{k}": _mean(ndcg),
        f"precision@{k}": _mean(precision),
        f"recall@{k}": _mean(recall),
        f"hr@{k}": _mean(hit),
        "coverage": len(shown) / catalog_size if catalog_size else 0.0,
    }


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def classification_metrics(labels: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """AUC of the logits and log loss of sigmoid(logits) against binary labels."""
    probabilities = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -30, 30)))
    return {
        "auc": float(roc_auc_score(labels, logits)),
        "logloss": float(log_loss(labels, probabilities, labels=[0, 1])),
    }
