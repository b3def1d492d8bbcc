"""Merging recall channels into one candidate list.

Channel scores live on scales that cannot be compared (co-occurrence counts, dot products, cosines, decayed
popularity), so the merge uses ranks, not scores: an item at 0-based rank r in a channel gets
k / (k + r) with k = RRF_K (weighted reciprocal-rank fusion, Cormack et al., 2009), 1.0 for each channel's top
item whatever the channel returned. An item's merged score is the weighted sum over the channels that found
it, so agreement between channels lifts an item. A weight-0 channel still contributes candidates, ranked last.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from lemo.scenarios import ChannelConfig

# The usual reciprocal-rank constant: large enough that rank 0 and rank 1 differ by little.
RRF_K = 60.0

_score = itemgetter(1)


@dataclass(frozen=True, slots=True)
class SourceHit:
    """Where one channel put an item: its raw score there and its 0-based rank (after exclusions)."""

    score: float
    rank: int


@dataclass(frozen=True, slots=True)
class MergedCandidate:
    item_id: str
    score: float
    sources: Mapping[str, SourceHit] = field(default_factory=dict)

    def source_scores(self) -> dict[str, float]:
        """channel -> raw score, as a rerank `Candidate` carries it."""
        return {name: hit.score for name, hit in self.sources.items()}


@dataclass(frozen=True, slots=True)
class ChannelOutcome:
    """How one channel fared in a request, for debug output and degraded-mode reporting."""

    name: str
    ok: bool
    count: int = 0
    ms: float = 0.0
    error: str | None = None


def merge_channels(
    results: Mapping[str, Sequence[tuple[str, float]]],
    configs: Mapping[str, ChannelConfig],
    exclude: Collection[str],
    limit: int,
) -> list[MergedCandidate]:
    """Merges per-channel (item_id, score) lists into at most `limit` candidates, best first.

    Each channel's list is ordered by its score (best first, ties keep the channel's order), stripped of
    excluded items and of repeats, and cut to its quota; channels without an enabled config are ignored.
    Ties in the merged score go to the better best rank, then to the item id, so the output is deterministic.
    """
    if limit <= 0:
        return []
    excluded = exclude if isinstance(exclude, set | frozenset) else frozenset(exclude)
    merged: dict[str, float] = {}
    best_rank: dict[str, int] = {}
    sources: dict[str, dict[str, SourceHit]] = {}
    for name, hits in results.items():
        config = configs.get(name)
        if config is None or not config.enabled:
            continue
        weight, quota, rank = config.weight, config.quota, 0
        for item_id, score in sorted(hits, key=_score, reverse=True):  # stable: ties keep the channel's order
            if item_id in excluded:
                continue
            item_sources = sources.get(item_id)
            if item_sources is None:
                item_sources = sources[item_id] = {}
                best_rank[item_id] = rank
                merged[item_id] = 0.0
            elif name in item_sources:
                continue
            elif rank < best_rank[item_id]:
                best_rank[item_id] = rank
            item_sources[name] = SourceHit(score=float(score), rank=rank)
            merged[item_id] += weight * RRF_K / (RRF_K + rank)
            rank += 1
            if rank >= quota:
                break
    ordered = sorted(merged, key=lambda i: (-merged[i], best_rank[i], i))[:limit]
    return [MergedCandidate(item_id=i, score=merged[i], sources=sources[i]) for i in ordered]
