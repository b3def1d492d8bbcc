"""What every model offers, and the shared machinery of recall models that score the whole catalog.

Artifacts are plain files (JSON for ids and parameters, npz for arrays, torch state_dicts): nothing is pickled,
so a model directory can be read by any version of the code that knows its kind.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

META_FILE = "model.json"


@runtime_checkable
class Model(Protocol):
    kind: str
    params: dict[str, Any]

    def save(self, directory: Path) -> None: ...


@runtime_checkable
class RecallModel(Model, Protocol):
    def recommend(
        self, history: Sequence[str], k: int, *, user_id: str | None = None, exclude: Collection[str] = ()
    ) -> list[tuple[str, float]]: ...

    def similar_items(self, item_id: str, k: int) -> list[tuple[str, float]]: ...


@runtime_checkable
class RankerModel(Model, Protocol):
    def score(
        self,
        user: Any,
        history: Sequence[str],
        candidates: Sequence[str],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> np.ndarray: ...


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest finite scores, best first (ties broken by index, so results are stable)."""
    finite = np.flatnonzero(np.isfinite(scores))
    if k <= 0 or finite.size == 0:
        return np.empty(0, dtype=np.int64)
    if finite.size > k:
        finite = finite[np.argpartition(-scores[finite], k - 1)[:k]]
    return finite[np.lexsort((finite, -scores[finite]))]


def top_k_rows(matrix: np.ndarray, k: int) -> np.ndarray:
    """`top_k` of every row at once: int64 [n_rows, k], best first (ties by index), -1 where a row has fewer
    finite scores."""
    n_rows, n_cols = matrix.shape
    k = min(k, n_cols)
    if k <= 0:
        return np.empty((n_rows, 0), dtype=np.int64)
    keyed = np.where(np.isfinite(matrix), -matrix, np.inf)
    best = np.argpartition(keyed, k - 1, axis=1)[:, :k] if k < n_cols else np.tile(np.arange(n_cols), (n_rows, 1))
    values = np.take_along_axis(keyed, best, axis=1)
    order = np.lexsort((best, values), axis=1)
    best, values = np.take_along_axis(best, order, axis=1), np.take_along_axis(values, order, axis=1)
    return np.where(np.isfinite(values), best, -1).astype(np.int64)


def write_meta(directory: Path, kind: str, params: Mapping[str, Any], **extra: Any) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / META_FILE).write_text(json.dumps({"kind": kind, "params": dict(params), **extra}))


def read_meta(directory: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((directory / META_FILE).read_text())
    return meta


class CatalogRecall:
    """A recall model that scores every catalog item for a history (and optionally a known user).

    Subclasses implement `score_matrix`; recommendations, candidate scores and the unknown-id rules live here
    once: unknown history items are ignored, and a user with nothing known gets no recommendations.
    """

    kind: str = ""

    def __init__(self, item_ids: Sequence[str], params: Mapping[str, Any]) -> None:
        self.item_ids = list(item_ids)
        self.item_index = {item: n for n, item in enumerate(self.item_ids)}
        self.params = dict(params)

    def score_matrix(self, histories: sp.csr_matrix, user_ids: Sequence[str | None]) -> np.ndarray:
        """Scores float32 [n_users, n_items] for histories given as rows over `item_ids`; NaN where the model
        knows nothing about a user."""
        raise NotImplementedError

    def history_rows(self, histories: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """Binary rows over this model's items; unknown items are dropped."""
        indptr, indices = [0], []
        for history in histories:
            known = sorted({self.item_index[i] for i in history if i in self.item_index})
            indices.extend(known)
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        return sp.csr_matrix((data, indices, indptr), shape=(len(histories), len(self.item_ids)))

    def scores(self, history: Sequence[str], user_id: str | None = None) -> np.ndarray:
        """One user's scores over `item_ids` (NaN when nothing about the user is known)."""
        row: np.ndarray = self.score_matrix(self.history_rows([history]), [user_id])[0]
        return row

    def recommend(
        self, history: Sequence[str], k: int, *, user_id: str | None = None, exclude: Collection[str] = ()
    ) -> list[tuple[str, float]]:
        scores = self.scores(history, user_id).copy()
        seen = [self.item_index[i] for i in (*history, *exclude) if i in self.item_index]
        scores[seen] = np.nan
        return [(self.item_ids[n], float(scores[n])) for n in top_k(scores, k)]

    def similar_items(self, item_id: str, k: int) -> list[tuple[str, float]]:
        """Items scored from a one-item history; models with a better notion of similarity override it."""
        if item_id not in self.item_index:
            return []
        return self.recommend([item_id], k)

    def save(self, directory: Path) -> None:
        write_meta(directory, self.kind, self.params, item_ids=self.item_ids, **self.extra_meta())
        save_arrays(directory, self.arrays())

    def extra_meta(self) -> dict[str, Any]:
        """JSON-serializable fields to store in model.json besides kind, params and item ids."""
        return {}

    def arrays(self) -> dict[str, np.ndarray]:
        """The learned arrays to persist next to model.json."""
        raise NotImplementedError


def save_arrays(directory: Path, arrays: Mapping[str, np.ndarray]) -> None:
    save: Any = np.savez_compressed  # numpy's stubs mistake **arrays for its allow_pickle flag
    save(directory / "arrays.npz", **arrays)


def load_arrays(directory: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    meta = read_meta(directory)
    with np.load(directory / "arrays.npz", allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return meta, arrays


def csr_arrays(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    """A CSR matrix as plain arrays for npz (no pickle)."""
    return {
        f"{prefix}_data": matrix.data,
        f"{prefix}_indices": matrix.indices,
        f"{prefix}_indptr": matrix.indptr,
        f"{prefix}_shape": np.array(matrix.shape),
    }


def csr_from_arrays(prefix: str, arrays: Mapping[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(n) for n in arrays[f"{prefix}_shape"])
    return sp.csr_matrix(
        (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]), shape=shape
    )


def nan_rows_without_history(scores: np.ndarray, histories: sp.csr_matrix) -> np.ndarray:
    """Marks users with an empty known history as unknown (NaN) instead of scoring them all zero."""
    empty = np.diff(histories.indptr) == 0
    scores[empty] = np.nan
    return scores


def cosine_neighbors(
    vectors: np.ndarray, item_ids: Sequence[str], item_index: Mapping[str, int], item_id: str, k: int
) -> list[tuple[str, float]]:
    """The k items whose vectors are closest in cosine to `item_id`'s ([] for an unknown item)."""
    if item_id not in item_index:
        return []
    unit = vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9)
    scores = unit @ unit[item_index[item_id]]
    scores[item_index[item_id]] = np.nan
    return [(item_ids[n], float(scores[n])) for n in top_k(scores, k)]
