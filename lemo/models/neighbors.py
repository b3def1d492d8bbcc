"""Neighborhood recall: item-based and user-based collaborative filtering with shrunk cosine similarity.

Both are cheap, explainable baselines that tenants expect, and strong channels on dense catalogs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from lemo.models.base import CatalogRecall, csr_arrays, csr_from_arrays, load_arrays, nan_rows_without_history, top_k
from lemo.models.data import TrainingData

ITEM_CF_DEFAULTS: dict[str, Any] = {"neighbors": 400, "shrink": 10.0}
USER_CF_DEFAULTS: dict[str, Any] = {"neighbors": 200, "shrink": 0.0}
ROW_CHUNK = 2048
# Past this many columns the similarity is computed on the co-occurring pairs only (`sparse_shrunk_cosine`): a
# dense [chunk, columns] block per chunk made item-CF quadratic in the catalog (100,000 items: 10^10 cells).
SPARSE_PAST = 20_000


def _keep_top(dense: np.ndarray, k: int) -> sp.csr_matrix:
    """Keeps the k largest entries of each row (the rest become zero)."""
    if dense.shape[1] > k:
        cut = np.argpartition(-dense, k - 1, axis=1)[:, k:]
        np.put_along_axis(dense, cut, 0.0, axis=1)
    return sp.csr_matrix(dense)


@dataclass(frozen=True)
class CosineSide:
    """The right-hand rows of a cosine computation, prepared once: user-CF compares every request with the
    same training users, and recomputing their norms per request was most of its latency."""

    transposed: sp.csr_matrix
    binary_transposed: sp.csr_matrix
    norms: np.ndarray

    @classmethod
    def of(cls, rows: sp.csr_matrix) -> CosineSide:
        norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel()) + 1e-9
        return cls(rows.T.tocsr(), (rows > 0).astype(np.float32).T.tocsr(), norms)


def shrunk_cosine(a: sp.csr_matrix, b: CosineSide, shrink: float, neighbors: int) -> sp.csr_matrix:
    """Row-by-row cosine similarity between the rows of `a` and `b`, shrunk towards 0 for small overlaps
    (sim * overlap / (overlap + shrink)) and pruned to the top `neighbors` per row."""
    a_norm = np.sqrt(np.asarray(a.multiply(a).sum(axis=1)).ravel()) + 1e-9
    a_bin = (a > 0).astype(np.float32)
    blocks = []
    for start in range(0, a.shape[0], ROW_CHUNK):
        stop = min(start + ROW_CHUNK, a.shape[0])
        dot = (a[start:stop] @ b.transposed).toarray()
        overlap = (a_bin[start:stop] @ b.binary_transposed).toarray()
        sim = dot / np.outer(a_norm[start:stop], b.norms) * overlap / np.maximum(overlap + shrink, 1e-9)
        blocks.append(_keep_top(sim.astype(np.float32), neighbors))
    return sp.csr_matrix(sp.vstack(blocks)) if blocks else sp.csr_matrix((a.shape[0], len(b.norms)))


def _top_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keeps the k largest entries of each row of a CSR matrix (ties: lower column first)."""
    matrix.sum_duplicates()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    order = np.lexsort((matrix.indices, -matrix.data, rows))
    position = np.arange(len(order)) - matrix.indptr[rows[order]]
    keep = order[position < k]
    return sp.csr_matrix((matrix.data[keep], (rows[keep], matrix.indices[keep])), shape=matrix.shape)


def sparse_shrunk_cosine(a: sp.csr_matrix, b: CosineSide, shrink: float, neighbors: int) -> sp.csr_matrix:
    """`shrunk_cosine` computed on the pairs that co-occur at all (the others are 0), chunk by chunk of rows: its
    cost grows with the co-occurrences, not with rows x columns."""
    a_norm = np.sqrt(np.asarray(a.multiply(a).sum(axis=1)).ravel()) + 1e-9
    a_bin = (a > 0).astype(np.float32)
    blocks = []
    for start in range(0, a.shape[0], ROW_CHUNK):
        stop = min(start + ROW_CHUNK, a.shape[0])
        dot = sp.csr_matrix(a[start:stop] @ b.transposed)
        overlap = sp.csr_matrix(a_bin[start:stop] @ b.binary_transposed)
        dot.sort_indices()
        overlap.sort_indices()  # the same pattern as dot: every weight is positive
        rows = np.repeat(np.arange(stop - start), np.diff(dot.indptr)) + start
        dot.data = (
            dot.data / (a_norm[rows] * b.norms[dot.indices]) * overlap.data / np.maximum(overlap.data + shrink, 1e-9)
        ).astype(np.float32)
        blocks.append(_top_per_row(dot, neighbors))
    return sp.csr_matrix(sp.vstack(blocks)) if blocks else sp.csr_matrix((a.shape[0], len(b.norms)))


class ItemCF(CatalogRecall):
    """score(i) = sum over history items h of sim(h, i), with each item's top neighbors only."""

    kind = "item_cf"

    def __init__(self, item_ids: Sequence[str], params: Mapping[str, Any], similarity: sp.csr_matrix) -> None:
        super().__init__(item_ids, params)
        self.similarity = similarity.astype(np.float32)

    @classmethod
    def train(cls, data: TrainingData, params: Mapping[str, Any]) -> ItemCF:
        p = {**ITEM_CF_DEFAULTS, **params}
        items = data.matrix.T.tocsr()
        similarity = sparse_shrunk_cosine if data.n_items > SPARSE_PAST else shrunk_cosine
        sim = similarity(items, CosineSide.of(items), float(p["shrink"]), int(p["neighbors"]) + 1)
        sim.setdiag(0.0)
        sim.eliminate_zeros()
        return cls(data.item_ids, p, sim)

    def score_matrix(self, histories: sp.csr_matrix, user_ids: Sequence[str | None]) -> np.ndarray:
        scores = np.asarray((histories @ self.similarity).todense(), dtype=np.float32)
        return nan_rows_without_history(scores, histories)

    def similar_items(self, item_id: str, k: int) -> list[tuple[str, float]]:
        if item_id not in self.item_index:
            return []
        row = self.similarity[self.item_index[item_id]].toarray().ravel()
        row[row <= 0] = np.nan
        return [(self.item_ids[n], float(row[n])) for n in top_k(row, k)]

    def arrays(self) -> dict[str, np.ndarray]:
        return csr_arrays("similarity", self.similarity)

    @classmethod
    def load(cls, directory: Path) -> ItemCF:
        meta, arrays = load_arrays(directory)
        return cls(meta["item_ids"], meta["params"], csr_from_arrays("similarity", arrays))


class UserCF(CatalogRecall):
    """score(i) = sum over the most similar training users u of sim(user, u) * r(u, i)."""

    kind = "user_cf"

    def __init__(
        self, item_ids: Sequence[str], user_ids: Sequence[str], params: Mapping[str, Any], matrix: sp.csr_matrix
    ) -> None:
        super().__init__(item_ids, params)
        self.user_ids = list(user_ids)
        self.user_index = {u: n for n, u in enumerate(self.user_ids)}
        self.matrix = matrix.astype(np.float32)
        self.users = CosineSide.of(self.matrix)

    @classmethod
    def train(cls, data: TrainingData, params: Mapping[str, Any]) -> UserCF:
        return cls(data.item_ids, data.user_ids, {**USER_CF_DEFAULTS, **params}, data.matrix)

    def score_matrix(self, histories: sp.csr_matrix, user_ids: Sequence[str | None]) -> np.ndarray:
        neighbors = int(self.params["neighbors"])
        sim = shrunk_cosine(histories, self.users, float(self.params["shrink"]), neighbors + 1)
        own = [(row, self.user_index[u]) for row, u in enumerate(user_ids) if u is not None and u in self.user_index]
        if own:  # a trained user is not its own neighbor
            rows, cols = zip(*own, strict=True)
            sim = sim - sp.csr_matrix((np.asarray(sim[list(rows), list(cols)]).ravel(), (rows, cols)), shape=sim.shape)
        scores = np.asarray((sim @ self.matrix).todense(), dtype=np.float32)
        return nan_rows_without_history(scores, histories)

    def arrays(self) -> dict[str, np.ndarray]:
        return csr_arrays("matrix", self.matrix)

    def extra_meta(self) -> dict[str, Any]:
        return {"user_ids": self.user_ids}

    @classmethod
    def load(cls, directory: Path) -> UserCF:
        meta, arrays = load_arrays(directory)
        return cls(meta["item_ids"], meta["user_ids"], meta["params"], csr_from_arrays("matrix", arrays))
