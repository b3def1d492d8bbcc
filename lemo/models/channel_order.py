"""What serves in a learned ranker's place when the ranker guard (lemo.registry.ranker_guard) found that its
pipeline did not beat the best single recall channel on the validation split: that channel's own order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lemo.models.base import CatalogRecall
from lemo.models.data import UserMeta


class ChannelOrder:
    """Scores candidates with one recall channel, so the ranked list is that channel's order over them.

    Candidates the channel cannot score go last (in their given order); `fallback_reason` (the guard's) is what
    the rank stage reports as its fallback."""

    kind = "channel_order"

    def __init__(self, channel: str, model: CatalogRecall, reason: str) -> None:
        self.channel = channel
        self.model = model
        self.fallback_reason = reason
        self.params: dict[str, Any] = {"channel": channel}

    def score(
        self,
        user: UserMeta | str | None,
        history: Sequence[str],
        candidates: Sequence[str],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> np.ndarray:
        """float32 [len(candidates)]: the channel's scores; unscored candidates get less than every scored one."""
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        user_id = user if isinstance(user, str) or user is None else user.user_id
        row = self.model.score_matrix(self.model.history_rows([history]), [user_id])[0]
        index = np.fromiter((self.model.item_index.get(c, -1) for c in candidates), np.int64, len(candidates))
        scores = np.where(index >= 0, row[np.maximum(index, 0)], np.nan).astype(np.float64)
        finite = np.isfinite(scores)
        floor = float(scores[finite].min()) - 1.0 if finite.any() else 0.0
        # unscored candidates keep their given (recall) order below every scored one
        fill = floor - np.arange(len(candidates), dtype=np.float64) * 1e-6
        return np.where(finite, scores, fill).astype(np.float32)

    def save(self, directory: Path) -> None:
        raise NotImplementedError("a channel order is built from its channel's artifact, never saved")
