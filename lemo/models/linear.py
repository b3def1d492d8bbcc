"""Closed-form recall: EASE (Steck, 2019) and item popularity.

EASE learns one item-item weight matrix by ridge regression of each item on all others, with a zero diagonal so
an item cannot explain itself. On dense, mid-sized catalogs it beats most neural recommenders and trains in well
under a second, so it is the strongest single channel here. Its dense matrix grows with the square of the
catalog (and its inverse with the cube), so only items with at least one interaction are modelled, and of those
only the `max_items` most popular: 10,000 items take 0.4 GB per float32 matrix and the inverse is computed in
place from a Cholesky factor (6 s, where a general float64 inverse took 54 s). Items past that are left to the
other channels, and the model list says so (`coverage_note`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from lemo.models.base import CatalogRecall, load_arrays, nan_rows_without_history
from lemo.models.data import TrainingData

EASE_DEFAULTS: dict[str, Any] = {"l2": 800.0, "max_items": 10_000}


class Ease(CatalogRecall):
    kind = "ease"

    def __init__(self, item_ids: Sequence[str], params: Mapping[str, Any], weights: np.ndarray) -> None:
        super().__init__(item_ids, params)
        self.weights = weights.astype(np.float32)

    @classmethod
    def train(cls, data: TrainingData, params: Mapping[str, Any]) -> Ease:
        p = {**EASE_DEFAULTS, **params}
        popularity = data.item_popularity()
        # an item nobody interacted with gets all-zero weights: modelling it costs memory and says nothing
        ranked = np.argsort(-popularity, kind="stable")[: int(p["max_items"])]
        kept = np.sort(ranked[popularity[ranked] > 0])
        x = data.matrix[:, kept]
        gram = (x.T @ x).toarray().astype(np.float32)
        gram[np.diag_indices_from(gram)] += float(p["l2"])
        inverse = spd_inverse(gram)
        weights = np.divide(inverse, -np.diag(inverse), out=inverse)
        np.fill_diagonal(weights, 0.0)
        # what the model list shows: how much of the catalog the dense model covers (see `coverage_note`)
        p |= {"modelled_items": len(kept), "catalog_items": data.n_items}
        return cls([data.item_ids[n] for n in kept], p, weights)

    def score_matrix(self, histories: sp.csr_matrix, user_ids: Sequence[str | None]) -> np.ndarray:
        scores = np.asarray(histories @ self.weights, dtype=np.float32)
        return nan_rows_without_history(scores, histories)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights}

    @classmethod
    def load(cls, directory: Path) -> Ease:
        meta, arrays = load_arrays(directory)
        return cls(meta["item_ids"], meta["params"], arrays["weights"])


def spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite float32 matrix, computed in place (the argument is
    overwritten with it) by a Cholesky factorisation. 10,000 items: 6 s and one matrix of memory, where a
    general float64 inverse took 54 s and three."""
    # LAPACK works on column-major arrays; the transpose of a symmetric C-ordered matrix is the same matrix in
    # column-major order, so nothing is copied
    factor, info = scipy.linalg.lapack.spotrf(matrix.T, lower=0, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky factorisation failed ({info})")
    inverse, info = scipy.linalg.lapack.spotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"inverse from the Cholesky factor failed ({info})")
    inverse = np.ascontiguousarray(inverse.T)  # row-major again (a column-major matrix made sparse products copy)
    # spotri filled the lower triangle only; the upper one is copied over in blocks of rows (index arrays over
    # the whole triangle took 0.8 GB and longer than the factorisation's own steps at 10,000 items)
    n = len(inverse)
    for start in range(0, n, _SYMMETRIZE_ROWS):
        stop = min(start + _SYMMETRIZE_ROWS, n)
        inverse[start:stop, stop:] = inverse[stop:, start:stop].T
        block = inverse[start:stop, start:stop]
        upper = np.triu_indices(stop - start, 1)
        block[upper] = block.T[upper]
    return inverse


_SYMMETRIZE_ROWS = 512


def coverage_note(params: Mapping[str, Any]) -> str:
    """ "" or what a model that steps aside past a catalog size leaves out, for the model list."""
    modelled, catalog = params.get("modelled_items"), params.get("catalog_items")
    if modelled is None or catalog is None or modelled >= catalog:
        return ""
    return (
        f"models {modelled:,} of {catalog:,} items (those with interactions, at most max_items = "
        f"{params.get('max_items')}, the most popular first); the rest are left to the other channels"
    )


class Popular(CatalogRecall):
    """The same list for everyone (minus what they have seen): the cold-start fallback and the baseline."""

    kind = "popular"

    def __init__(self, item_ids: Sequence[str], params: Mapping[str, Any], popularity: np.ndarray) -> None:
        super().__init__(item_ids, params)
        self.popularity = popularity.astype(np.float32)

    @classmethod
    def train(cls, data: TrainingData, params: Mapping[str, Any]) -> Popular:
        return cls(data.item_ids, dict(params), np.log1p(data.item_popularity()))

    def score_matrix(self, histories: sp.csr_matrix, user_ids: Sequence[str | None]) -> np.ndarray:
        return np.tile(self.popularity, (histories.shape[0], 1))

    def similar_items(self, item_id: str, k: int) -> list[tuple[str, float]]:
        return []

    def arrays(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity}

    @classmethod
    def load(cls, directory: Path) -> Popular:
        meta, arrays = load_arrays(directory)
        return cls(meta["item_ids"], meta["params"], arrays["popularity"])
