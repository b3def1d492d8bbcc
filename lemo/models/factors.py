"""Matrix factorization recall with `implicit`'s ALS (Hu, Koren, Volinsky 2008), multithreaded C++ on CPU.

Trained users are scored with their learned vector; anyone else is folded in from their history by one
closed-form least-squares step against the fixed item factors. The regularization grows on data sparser than
MovieLens-100k (`effective_regularization`), where the value tuned there let ALS fall far below popularity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from lemo.models.base import CatalogRecall, cosine_neighbors, load_arrays

# The growth of the regularization on sparse data was chosen on validation splits only (docs/evaluation.md, "ALS on
# sparse data"); regularization 10 is MovieLens-100k's, where it still applies as given.
ALS_DEFAULTS: dict[str, Any] = {
    "factors": 32,
    "regularization": 10.0,
    "alpha": 5.0,
    "iterations": 15,
    "regularization_exponent": 1.0,
}
# The weight a typical user's positives carry against the unobserved items (alpha x mean history / catalog size)
# at or above which `regularization` applies as given (MovieLens-100k: 0.18-0.30); below it, it grows.
REFERENCE_POSITIVE_SHARE = 0.05
# ...but stays under this share of the regularization at which ALS's only stable solution is all-zero factors.
COLLAPSE_MARGIN = 0.5


def positive_share(matrix: sp.csr_matrix, alpha: float) -> float:
    """alpha x the mean history length of users with one / the catalog size: how much a typical user's positives
    weigh against the unobserved items (weight 1 each) in ALS's per-user normal equations."""
    active = int(np.count_nonzero(np.diff(matrix.indptr)))
    return float(alpha * matrix.nnz / max(active, 1) / max(matrix.shape[1], 1))


def collapse_regularization(matrix: sp.csr_matrix, alpha: float, steps: int = 30) -> float:
    """The regularization above which ALS's factors shrink to zero every sweep: near zero a sweep maps the item
    factors Y to (CP)ᵀ(CP) Y / λ², so they die out once λ exceeds the top singular value of CP, the matrix of
    confidences 1 + alpha x value on the observed pairs (estimated by power iteration from a positive start)."""
    cp = matrix.astype(np.float64)
    cp.data = 1.0 + alpha * cp.data
    v = np.ones(cp.shape[1]) / np.sqrt(cp.shape[1])
    sigma = 0.0
    for _ in range(steps):
        u = cp @ v
        v = cp.T @ u
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            return 0.0
        sigma, v = np.sqrt(norm), v / norm
    return float(sigma)


def effective_regularization(matrix: sp.csr_matrix, params: Mapping[str, Any]) -> float:
    """`regularization` x (REFERENCE_POSITIVE_SHARE / positive share) ** `regularization_exponent` on sparser
    data, capped at COLLAPSE_MARGIN x `collapse_regularization`; never less than `regularization`.

    With the regularization tuned on MovieLens-100k (about 60 items per user among 1,682), a tenant with 10 clicks
    per user among 100,000 items gave each user a vector fitted to a handful of mostly random clicks, and ALS
    ranked below popularity (NDCG@10 0.03 against 0.13)."""
    alpha, base = float(params["alpha"]), float(params["regularization"])
    share = positive_share(matrix, alpha)
    scale = max(1.0, REFERENCE_POSITIVE_SHARE / max(share, 1e-12)) ** float(params["regularization_exponent"])
    if scale == 1.0:
        return base
    return float(max(base, min(base * scale, COLLAPSE_MARGIN * collapse_regularization(matrix, alpha))))


class Als(CatalogRecall):
    kind = "als"

    def __init__(
        self,
        item_ids: Sequence[str],
        user_ids: Sequence[str],
        params: Mapping[str, Any],
        user_factors: np.ndarray,
        item_factors: np.ndarray,
    ) -> None:
        super().__init__(item_ids, params)
        self.user_ids = list(user_ids)
        self.user_index = {u: n for n, u in enumerate(self.user_ids)}
        self.user_factors = user_factors.astype(np.float32)
        self.item_factors = item_factors.astype(np.float32)
        # YᵀY + λI, the part of every fold-in's normal equations that does not depend on the user: computed once
        # here instead of per request (the [n_items, f] product is most of a fold-in's cost).
        y = self.item_factors
        # The regularization the factors were trained with (models saved before it was recorded: as given).
        regularization = float(self.params.get("effective_regularization", self.params["regularization"]))
        self._gram = y.T @ y + regularization * np.eye(y.shape[1], dtype=np.float32)

    @classmethod
    def train(cls, data: Any, params: Mapping[str, Any], seed: int, threads: int) -> Als:
        from implicit.cpu.als import AlternatingLeastSquares  # imported late: it starts a thread pool
        from threadpoolctl import threadpool_limits

        p = {**ALS_DEFAULTS, **params}
        p["effective_regularization"] = effective_regularization(data.matrix, p)
        with threadpool_limits(1, "blas"):  # implicit runs its own threads; nested BLAS threads only contend
            model = AlternatingLeastSquares(
                factors=int(p["factors"]),
                regularization=p["effective_regularization"],
                alpha=float(p["alpha"]),
                iterations=int(p["iterations"]),
                random_state=seed,
                num_threads=threads,
                calculate_training_loss=False,
            )
            model.fit(data.matrix, show_progress=False)
        return cls(data.item_ids, data.user_ids, p, model.user_factors, model.item_factors)

    def fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        """The user vector ALS would learn for this history with the item factors held fixed."""
        alpha = float(self.params["alpha"])
        y_h = self.item_factors[history.indices]
        confidence = 1.0 + alpha * history.data
        a = self._gram + (y_h.T * (confidence - 1.0)) @ y_h
        return np.asarray(np.linalg.solve(a, y_h.T @ confidence), dtype=np.float32)

    def user_vectors(self, histories: sp.csr_matrix, user_ids: Sequence[str | None]) -> np.ndarray:
        vectors = np.full((histories.shape[0], self.item_factors.shape[1]), np.nan, dtype=np.float32)
        for row, user in enumerate(user_ids):
            if user is not None and user in self.user_index:
                vectors[row] = self.user_factors[self.user_index[user]]
            elif histories[row].nnz:
                vectors[row] = self.fold_in(histories[row])
        return vectors

    def score_matrix(self, histories: sp.csr_matrix, user_ids: Sequence[str | None]) -> np.ndarray:
        return self.user_vectors(histories, user_ids) @ self.item_factors.T

    def similar_items(self, item_id: str, k: int) -> list[tuple[str, float]]:
        return cosine_neighbors(self.item_factors, self.item_ids, self.item_index, item_id, k)

    def extra_meta(self) -> dict[str, Any]:
        return {"user_ids": self.user_ids}

    def arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    @classmethod
    def load(cls, directory: Path) -> Als:
        meta, arrays = load_arrays(directory)
        return cls(meta["item_ids"], meta["user_ids"], meta["params"], arrays["user_factors"], arrays["item_factors"])
