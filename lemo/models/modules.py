"""Torch building blocks shared by the assembled models (TorchRec's modules/ vs models/ split)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn


def mlp(sizes: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear -> ReLU (-> Dropout) stack over `sizes` ([in, hidden..., out]); no activation after the last."""
    layers: list[nn.Module] = []
    for n, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if n < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class FieldEmbeddings(nn.Module):
    """One embedding table per categorical field, held in a single table with per-field offsets.

    Index 0 of every field is "unknown", so unseen users, items and attribute values get a learned vector.
    """

    offsets: torch.Tensor

    def __init__(self, cardinalities: Sequence[int], dim: int) -> None:
        super().__init__()
        offsets = torch.tensor([0, *list(torch.tensor(list(cardinalities)).cumsum(0)[:-1].tolist())])
        self.register_buffer("offsets", offsets, persistent=False)
        self.table = nn.Embedding(int(sum(cardinalities)), dim)
        nn.init.normal_(self.table.weight, std=0.01)

    def forward(self, fields: torch.Tensor) -> torch.Tensor:
        """fields: int64 [batch, n_fields] -> float [batch, n_fields, dim]."""
        vectors: torch.Tensor = self.table(fields + self.offsets)
        return vectors


class FactorizationMachine(nn.Module):
    """Second-order interactions of field vectors in O(n k): 0.5 * ((sum v)^2 - sum v^2)."""

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """vectors: [batch, n_fields, dim] -> [batch]."""
        square_of_sum = vectors.sum(dim=1).pow(2)
        sum_of_square = vectors.pow(2).sum(dim=1)
        return 0.5 * (square_of_sum - sum_of_square).sum(dim=1)


def default_device(device: str | None) -> str:
    return device or ("cuda" if torch.cuda.is_available() else "cpu")
