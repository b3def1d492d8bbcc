"""Two-tower retrieval: a user tower (mean of history item embeddings + user id embedding, then an MLP) and an
item tower (item id + mean category embedding), trained with softmax over the catalog so that cosine similarity
of the two vectors ranks a user's next items. Item vectors go to the ANN index; user vectors are computed per
request, so new users work from their history alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from lemo.models.base import CatalogRecall, cosine_neighbors, read_meta, write_meta
from lemo.models.data import TrainingData
from lemo.models.modules import build_seeded, mlp

TWO_TOWER_DEFAULTS: dict[str, Any] = {
    "dim": 64,
    "epochs": 10,  # more epochs overfit on the validation split
    "batch_size": 128,  # users per step
    "lr": 0.01,
    "temperature": 0.1,
    "target_ratio": 0.25,  # share of each history hidden as targets per step (the holdout share we predict)
    "negatives": 4096,
    "weight_decay": 0.0,
    "id_dropout": 0.2,
    # Past max_steps_per_epoch x batch_size users a batch grows instead of the number of steps: every step updates
    # the whole embedding tables (dense Adam), and at 100,000 users and items 780 steps an epoch took minutes.
    "max_steps_per_epoch": 50,
    # Past this many user histories in all (epochs x users), fewer epochs: the data work grows with both, and at
    # 100,000 users ten epochs took 270 s of the run's budget. MovieLens-100k (943 users) keeps its ten.
    "max_histories": 200_000,
}


class TwoTowerNet(nn.Module):
    def __init__(self, n_items: int, n_users: int, n_categories: int, dim: int) -> None:
        super().__init__()
        self.history = nn.EmbeddingBag(n_items + 1, dim, mode="sum")  # index 0: unknown
        self.user_id = nn.Embedding(n_users + 1, dim)
        self.user_mlp = mlp([2 * dim, 2 * dim, dim])
        self.item_id = nn.Embedding(n_items + 1, dim)
        self.category = nn.EmbeddingBag(n_categories + 1, dim, mode="mean")
        for table in (self.history, self.user_id, self.item_id, self.category):
            nn.init.normal_(table.weight, std=0.05)

    def users(
        self, hist_items: torch.Tensor, hist_offsets: torch.Tensor, hist_counts: torch.Tensor, user_ids: torch.Tensor
    ) -> torch.Tensor:
        """History bags (flat item indices + offsets, counts [batch]) and user ids [batch] -> unit [batch, dim]."""
        summed = self.history(hist_items, hist_offsets)
        mean = summed / hist_counts.to(summed.dtype).clamp(min=1.0).unsqueeze(1)
        return nn.functional.normalize(self.user_mlp(torch.cat([mean, self.user_id(user_ids)], dim=1)), dim=1)

    def items(self, item_ids: torch.Tensor, cat_items: torch.Tensor, cat_offsets: torch.Tensor) -> torch.Tensor:
        """Item indices [n] with their category bags -> unit [n, dim]."""
        return nn.functional.normalize(self.item_id(item_ids) + self.category(cat_items, cat_offsets), dim=1)


def _bags(matrix: sp.csr_matrix, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EmbeddingBag inputs (1-based indices, offsets, counts) for the given CSR rows."""
    selected = matrix[rows]
    selected.sort_indices()
    return (
        torch.as_tensor(selected.indices.astype(np.int64) + 1),
        torch.as_tensor(selected.indptr[:-1].astype(np.int64)),
        torch.as_tensor(np.diff(selected.indptr).astype(np.int64)),
    )


class TwoTower(CatalogRecall):
    kind = "two_tower"

    def __init__(
        self,
        item_ids: Sequence[str],
        user_ids: Sequence[str],
        categories: Sequence[str],
        item_categories: sp.csr_matrix,
        params: Mapping[str, Any],
        net: TwoTowerNet,
    ) -> None:
        super().__init__(item_ids, params)
        self.user_ids = list(user_ids)
        self.user_index = {u: n for n, u in enumerate(self.user_ids)}
        self.categories = list(categories)
        self.item_categories = item_categories
        self.net = net.cpu().eval()
        with torch.inference_mode():
            self._item_vectors = self._items(self.net).numpy()

    def _items(self, net: TwoTowerNet) -> torch.Tensor:
        cats, offsets, _ = _bags(self.item_categories, np.arange(len(self.item_ids)))
        ids = torch.arange(1, len(self.item_ids) + 1)
        return net.items(ids, cats, offsets)

    @classmethod
    def train(cls, data: TrainingData, params: Mapping[str, Any], seed: int, device: str) -> TwoTower:
        """Each step takes a batch of users, hides a random `target_ratio` of every history, and trains the user
        vector built from the rest to put the hidden items on top (softmax over the catalog, or over the targets
        plus a shared uniform sample when the catalog is larger than `negatives`)."""
        p = {**TWO_TOWER_DEFAULTS, **params}
        rng = np.random.default_rng(seed)
        categories = sorted({c for m in data.items.values() for c in m.categories})
        item_categories = _category_matrix(data, categories)
        net, generator = build_seeded(
            lambda: TwoTowerNet(data.n_items, data.n_users, len(categories), int(p["dim"])), seed, device
        )  # trained beside other models on the trainer's threads: draws only from its own generator
        net = net.to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=float(p["lr"]), weight_decay=float(p["weight_decay"]))
        binary = (data.matrix > 0).astype(np.float32).tocsr()
        active = np.flatnonzero(np.diff(binary.indptr) >= 2)  # a user needs an input and a target
        batch = max(int(p["batch_size"]), math.ceil(len(active) / max(1, int(p["max_steps_per_epoch"]))))
        temperature = float(p["temperature"])
        net.train()
        epochs = min(int(p["epochs"]), max(1, int(p["max_histories"]) // max(1, len(active))))
        for _ in range(epochs):
            for chosen in np.array_split(rng.permutation(active), max(1, math.ceil(len(active) / batch))):
                rows = binary[chosen]
                hidden = rng.random(rows.nnz) < float(p["target_ratio"])
                inputs, targets = _masked(rows, ~hidden), _masked(rows, hidden)
                hist, offsets, counts = (t.to(device) for t in _bags(inputs, np.arange(len(chosen))))
                ids = torch.as_tensor(chosen + 1, device=device)
                ids = torch.where(
                    torch.rand(len(ids), generator=generator, device=device) < float(p["id_dropout"]), 0, ids
                )
                user_vec = net.users(hist, offsets, counts, ids)
                pool = _softmax_pool(targets.indices, data.n_items, int(p["negatives"]), rng)
                cats, cat_offsets, _ = _bags(item_categories, pool)
                item_vec = net.items(torch.as_tensor(pool + 1, device=device), cats.to(device), cat_offsets.to(device))
                log_probs = torch.log_softmax(user_vec @ item_vec.T / temperature, dim=1)
                target = torch.as_tensor(targets[:, pool].toarray(), device=device)
                loss = -(log_probs * target).sum() / target.sum().clamp(min=1.0)
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
                optimizer.step()
        return cls(data.item_ids, data.user_ids, categories, item_categories, p, net)

    def item_vectors(self) -> tuple[list[str], np.ndarray]:
        """(item ids, float32 unit vectors [n, dim]) for the ANN index (inner product == cosine)."""
        return list(self.item_ids), self._item_vectors.astype(np.float32)

    def user_vectors(self, histories: sp.csr_matrix, user_ids: Sequence[str | None]) -> np.ndarray:
        hist, offsets, counts = _bags(histories, np.arange(histories.shape[0]))
        ids = torch.as_tensor([self.user_index.get(u, -1) + 1 if u is not None else 0 for u in user_ids])
        with torch.inference_mode():
            vectors = self.net.users(hist, offsets, counts, ids).numpy()
        unknown = (counts.numpy() == 0) & (ids.numpy() == 0)
        vectors[unknown] = np.nan
        return vectors

    def user_vector(self, history: Sequence[str], user_id: str | None = None) -> np.ndarray | None:
        """The user's unit vector, or None when neither the user nor any history item is known."""
        vector = self.user_vectors(self.history_rows([history]), [user_id])[0]
        return None if np.isnan(vector).any() else vector.astype(np.float32)

    def score_matrix(self, histories: sp.csr_matrix, user_ids: Sequence[str | None]) -> np.ndarray:
        return np.asarray(self.user_vectors(histories, user_ids) @ self._item_vectors.T, dtype=np.float32)

    def similar_items(self, item_id: str, k: int) -> list[tuple[str, float]]:
        return cosine_neighbors(self._item_vectors, self.item_ids, self.item_index, item_id, k)

    def save(self, directory: Path) -> None:
        write_meta(
            directory,
            self.kind,
            self.params,
            item_ids=self.item_ids,
            user_ids=self.user_ids,
            categories=self.categories,
            item_categories=[row.indices.tolist() for row in self.item_categories],
        )
        torch.save(self.net.state_dict(), directory / "net.pt")

    @classmethod
    def load(cls, directory: Path) -> TwoTower:
        meta = read_meta(directory)
        rows = meta["item_categories"]
        item_categories = _rows_to_csr(rows, len(meta["categories"]))
        net = TwoTowerNet(len(meta["item_ids"]), len(meta["user_ids"]), len(meta["categories"]), meta["params"]["dim"])
        net.load_state_dict(torch.load(directory / "net.pt", weights_only=True, map_location="cpu"))
        return cls(meta["item_ids"], meta["user_ids"], meta["categories"], item_categories, meta["params"], net)


def _softmax_pool(targets: np.ndarray, n_items: int, n_negatives: int, rng: np.random.Generator) -> np.ndarray:
    """Items the softmax runs over: the whole catalog when it is small, else the targets plus a uniform sample."""
    if n_items <= n_negatives:
        return np.arange(n_items)
    return np.unique(np.concatenate([targets, rng.integers(0, n_items, n_negatives)]))


def _masked(rows: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    """The entries of `rows` where `keep` (aligned with rows.data) is true."""
    out = rows.copy()
    out.data = np.where(keep, out.data, 0.0).astype(np.float32)
    out.eliminate_zeros()
    return out


def _category_matrix(data: TrainingData, categories: Sequence[str]) -> sp.csr_matrix:
    index = {c: n for n, c in enumerate(categories)}
    rows = [sorted({index[c] for c in data.items[i].categories}) if i in data.items else [] for i in data.item_ids]
    return _rows_to_csr(rows, len(categories))


def _rows_to_csr(rows: Sequence[Sequence[int]], n_categories: int) -> sp.csr_matrix:
    """Category bags as CSR rows, so `_bags` can slice them (an item without categories has an empty bag)."""
    indptr = np.concatenate(([0], np.cumsum([len(r) for r in rows]))).astype(np.int64)
    indices = np.asarray([c for r in rows for c in r], dtype=np.int64)
    return sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(len(rows), n_categories))
