"""Torch building blocks shared by the assembled models (TorchRec's modules/ vs models/ split)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch
from torch import nn

M = TypeVar("M", bound=nn.Module)
_global_generator_lock = threading.Lock()


def build_seeded(build: Callable[[], M], seed: int, device: str) -> tuple[M, torch.Generator]:
    """(`build()`, a generator of its own) with the initial weights `torch.manual_seed(seed)` then `build()` give.

    The trainer's workflow worker trains several models at once on threads of one process, and torch's global
    generator is one per process: a model that seeded it and drew from it (initialisation, dropout, id dropout)
    got numbers that depended on how the threads interleaved. Here the global generator is seeded, used for the
    construction and restored under a lock, and every later draw of the training goes to the returned generator,
    which continues where the construction left off (the `Dropout`s of the module draw from it too). So a seed
    gives the same model alone or beside other training, and the same model as seeding the global generator
    did; training code in `lemo.models` draws from torch's global generator nowhere else."""
    with _global_generator_lock, torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        module = build()
        state = torch.get_rng_state()
    generator = torch.Generator(device=device)
    if generator.device.type == "cpu":
        generator.set_state(state)
    else:
        generator.manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, Dropout):
            layer.generator = generator
    return module, generator


class Dropout(nn.Dropout):
    """`nn.Dropout` that draws its mask from `generator` when one is set (`build_seeded` sets it). The mask is
    drawn as torch's CPU dropout draws it (Bernoulli(1 - p), scaled by 1 / (1 - p)), so for the same generator
    state the numbers are the same."""

    generator: torch.Generator | None = None

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or self.generator is None:
            return super().forward(input)
        noise = torch.empty_like(input).bernoulli_(1 - self.p, generator=self.generator).div_(1 - self.p)
        return input * noise


def mlp(sizes: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear -> ReLU (-> Dropout) stack over `sizes` ([in, hidden..., out]); no activation after the last."""
    layers: list[nn.Module] = []
    for n, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if n < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(Dropout(dropout))
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
