"""Maximal Marginal Relevance (Carbonell & Goldstein, 1998): fill the leading places greedily with the item
maximizing  lambda * relevance - (1 - lambda) * max similarity to the items already chosen.

Relevance is the score min-max normalized over the list, so lambda means the same whatever the ranker's scale.
Similarity is the Jaccard overlap of categories, or the cosine of embeddings when `by="embedding"` and every
item carries one of the same size (otherwise categories; an item with no categories is similar to nothing).
Each greedy step is one matrix-vector product over the remaining items, so the cost is window x n x dim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from lemo.rerank.config import MMRRuleConfig
from lemo.rerank.types import Candidate, RerankContext, place_pins, split_pinned


class MMRRule:
    """Diversifies the first `window` places (default: the request's count); later items keep score order,
    pinned items keep their slots and are not part of the selection."""

    name = "mmr"

    def __init__(self, config: MMRRuleConfig) -> None:
        self._lambda = config.lambda_
        self._by = config.by
        self._window = config.window

    def apply(self, candidates: Sequence[Candidate], context: RerankContext) -> list[Candidate]:
        free, pinned = split_pinned(candidates, context.pins)
        if len(free) < 2 or self._lambda >= 1.0:
            return place_pins(free + pinned, context.pins)
        window = min(self._window or context.count, len(free))
        similarity = None
        if self._by == "embedding":
            similarity = _embedding_similarity(free)
        if similarity is None:
            similarity = _category_similarity(free)
        relevance = _normalized([c.score for c in free])
        order = mmr_order(relevance, similarity, self._lambda, window)
        return place_pins([free[i] for i in order] + pinned, context.pins)


def mmr_order(
    relevance: np.ndarray, similarity_to: Callable[[int], np.ndarray], lambda_: float, window: int
) -> list[int]:
    """Indices in MMR order for the first `window` places, then the remaining indices in their given order
    (with `lambda_` = 1: all indices by relevance).

    `similarity_to(j)` returns the similarity of every item to item j, as a vector.
    """
    n = len(relevance)
    if lambda_ >= 1.0:  # pure relevance (and 0 * inf below would be nan)
        by_relevance = np.argsort(-relevance, kind="stable")
        return [int(i) for i in by_relevance]
    weighted_relevance = lambda_ * relevance
    max_similarity = np.zeros(n, dtype=np.float64)
    chosen: list[int] = []
    is_chosen = np.zeros(n, dtype=bool)
    for _ in range(min(window, n)):
        j = int(np.argmax(weighted_relevance - (1.0 - lambda_) * max_similarity))  # first maximum on ties
        chosen.append(j)
        is_chosen[j] = True
        np.maximum(max_similarity, similarity_to(j), out=max_similarity)
        max_similarity[j] = np.inf  # never chosen twice
    return chosen + np.flatnonzero(~is_chosen).tolist()


def _normalized(scores: Sequence[float]) -> np.ndarray:
    values = np.asarray(scores, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if high - low <= 0.0:
        return np.ones_like(values)
    return (values - low) / (high - low)


def _category_similarity(candidates: Sequence[Candidate]) -> Callable[[int], np.ndarray]:
    """Jaccard similarity |A & B| / |A | B| via a one-hot item x category matrix."""
    index: dict[str, int] = {}
    columns = [index.setdefault(cat, len(index)) for c in candidates for cat in c.categories]
    rows = np.repeat(np.arange(len(candidates)), [len(c.categories) for c in candidates])
    one_hot = np.zeros((len(candidates), max(len(index), 1)), dtype=np.float32)
    one_hot[rows, columns] = 1.0  # an item listing a category twice still counts it once
    sizes = one_hot.sum(axis=1)

    def similarity_to(j: int) -> np.ndarray:
        overlap = one_hot @ one_hot[j]
        union = sizes + sizes[j] - overlap
        similarity: np.ndarray = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
        return similarity

    return similarity_to


def _embedding_similarity(candidates: Sequence[Candidate]) -> Callable[[int], np.ndarray] | None:
    """Cosine similarity of unit-normalized embeddings; None when any item lacks one or sizes differ."""
    if any(c.embedding is None for c in candidates):
        return None
    vectors = [np.asarray(c.embedding, dtype=np.float32).ravel() for c in candidates]
    if len({v.shape[0] for v in vectors}) != 1:
        return None
    matrix = np.stack(vectors)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)

    def similarity_to(j: int) -> np.ndarray:
        cosine: np.ndarray = matrix @ matrix[j]
        return cosine

    return similarity_to
