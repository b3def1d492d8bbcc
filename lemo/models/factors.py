"""Matrix factorization recall with `implicit`'s ALS (Hu, Koren, Volinsky 2008), multithreaded C++ on CPU.

Trained users are scored with their learned vector; anyone else is folded in from their history by one
closed-form least-squares step against the fixed item factors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from lemo.models.base import CatalogRecall, cosine_neighbors, load_arrays

ALS_DEFAULTS: dict[str, Any] = {"factors": 32, "regularization": 10.0, "alpha": 5.0, "iterations": 15}


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
        self._gram = y.T @ y + float(self.params["regularization"]) * np.eye(y.shape[1], dtype=np.float32)

    @classmethod
    def train(cls, data: Any, params: Mapping[str, Any], seed: int, threads: int) -> Als:
        from implicit.cpu.als import AlternatingLeastSquares  # imported late: it starts a thread pool
        from threadpoolctl import threadpool_limits

        p = {**ALS_DEFAULTS, **params}
        with threadpool_limits(1, "blas"):  # implicit runs its own threads; nested BLAS threads only contend
            model = AlternatingLeastSquares(
                factors=int(p["factors"]),
                regularization=float(p["regularization"]),
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
