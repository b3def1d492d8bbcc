"""The ranker networks: DeepFM (Guo et al. 2017), Wide & Deep (Cheng et al. 2016) and a linear fusion.

All take the same inputs (`ranking_features`): sparse fields int64 [B, F] (user id, item id, user attributes),
the item's category bag int64 [B, C] (0 = padding) and dense features float [B, D]; all return logits [B].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from lemo.models.modules import FactorizationMachine, FieldEmbeddings, mlp


class DeepFMNet(nn.Module):
    """logit = linear(fields, dense) + FM(field vectors, category vector, dense vectors) + DNN(all of them)."""

    def __init__(
        self,
        cardinalities: Sequence[int],
        n_categories: int,
        n_dense: int,
        dim: int,
        hidden: Sequence[int],
        dropout: float,
    ) -> None:
        super().__init__()
        self.embeddings = FieldEmbeddings(cardinalities, dim)
        self.linear = FieldEmbeddings(cardinalities, 1)
        self.categories = nn.EmbeddingBag(n_categories + 1, dim, mode="mean", padding_idx=0)
        self.category_linear = nn.EmbeddingBag(n_categories + 1, 1, mode="mean", padding_idx=0)
        self.dense_vectors = nn.Parameter(torch.randn(n_dense, dim) * 0.01)
        self.dense_linear = nn.Linear(n_dense, 1)
        self.fm = FactorizationMachine()
        n_vectors = len(cardinalities) + 1 + n_dense
        self.dnn = mlp([n_vectors * dim + n_dense, *hidden, 1], dropout)

    def forward(self, fields: torch.Tensor, categories: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """fields int64 [B, F], categories int64 [B, C] (0 = padding), dense float [B, D] -> logits [B]."""
        vectors = torch.cat(
            [
                self.embeddings(fields),
                self.categories(categories).unsqueeze(1),
                dense.unsqueeze(2) * self.dense_vectors.unsqueeze(0),
            ],
            dim=1,
        )
        first_order = self.linear(fields).sum(dim=(1, 2)) + self.category_linear(categories).squeeze(1)
        deep = self.dnn(torch.cat([vectors.flatten(1), dense], dim=1)).squeeze(1)
        logits: torch.Tensor = first_order + self.dense_linear(dense).squeeze(1) + self.fm(vectors) + deep
        return logits


class WideDeepNet(nn.Module):
    """logit = wide(one-hot fields, user attribute x item category crosses, dense) + deep(MLP over embeddings)."""

    CROSS_BUCKETS: ClassVar[int] = 50_000

    def __init__(
        self,
        cardinalities: Sequence[int],
        n_categories: int,
        n_dense: int,
        dim: int,
        hidden: Sequence[int],
        dropout: float,
    ) -> None:
        super().__init__()
        self.n_categories = n_categories
        self.wide_fields = FieldEmbeddings(cardinalities, 1)
        self.wide_crosses = nn.EmbeddingBag(self.CROSS_BUCKETS + 1, 1, mode="sum", padding_idx=0)
        nn.init.zeros_(self.wide_crosses.weight)
        self.wide_dense = nn.Linear(n_dense, 1)
        self.embeddings = FieldEmbeddings(cardinalities, dim)
        self.categories = nn.EmbeddingBag(n_categories + 1, dim, mode="mean", padding_idx=0)
        self.deep = mlp([(len(cardinalities) + 1) * dim + n_dense, *hidden, 1], dropout)

    def crosses(self, fields: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
        """Hashed (user attribute field, value, item category) ids [B, A * C]; 0 where either side is missing."""
        attributes = fields[:, 2:]
        n_attr = attributes.shape[1]
        field_no = torch.arange(n_attr, device=fields.device).view(1, n_attr, 1)
        key = (attributes.unsqueeze(2) * 1_000_003 + field_no * 7_919 + categories.unsqueeze(1)) % self.CROSS_BUCKETS
        valid = (attributes.unsqueeze(2) > 0) & (categories.unsqueeze(1) > 0)
        return torch.where(valid, key + 1, 0).flatten(1)

    def forward(self, fields: torch.Tensor, categories: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """fields int64 [B, F], categories int64 [B, C] (0 = padding), dense float [B, D] -> logits [B]."""
        wide = self.wide_fields(fields).sum(dim=(1, 2)) + self.wide_dense(dense).squeeze(1)
        if fields.shape[1] > 2:
            wide = wide + self.wide_crosses(self.crosses(fields, categories)).squeeze(1)
        vectors = torch.cat([self.embeddings(fields).flatten(1), self.categories(categories), dense], dim=1)
        logits: torch.Tensor = wide + self.deep(vectors).squeeze(1)
        return logits


class LinearFusionNet(nn.Module):
    """logit = w . dense: a learned weighting of the channels' scores and ranks plus history statistics, with
    no ids or metadata to overfit. The strongest ranker when channels are strong and metadata is thin."""

    def __init__(
        self,
        cardinalities: Sequence[int],
        n_categories: int,
        n_dense: int,
        dim: int,
        hidden: Sequence[int],
        dropout: float,
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(n_dense, 1)

    def forward(self, fields: torch.Tensor, categories: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
        """dense float [B, D] -> logits [B] (fields and categories are accepted and ignored)."""
        logits: torch.Tensor = self.linear(dense).squeeze(1)
        return logits
