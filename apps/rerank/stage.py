"""The rerank stage: a RerankRequest's candidates with their catalog metadata, through the rule chain, cut to count.
Candidates come and go as columns; channel scores, when the request carries them, are kept with each item.

Before the rules run, candidates the tenant's catalog marks hidden or expired are removed (reported as the
effect "available"); candidates the catalog does not know are kept with no metadata or removed, per settings
(`unknown_items`). Kept unknown items have no categories, tags, date or attributes: an include-categories filter
removes them, boosts and caps never match them, freshness leaves their score, MMR finds them similar to nothing.
Pins may name items recall did not return: they are looked up in the catalog and placed when available.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from apps.rerank.embeddings import EmbeddingSource, ItemVectors
from apps.rerank.metadata import ItemMeta, MetadataCache
from lemo.rerank import Candidate, MMRRuleConfig, PinRuleConfig, RerankContext, apply_rules
from lemo.serving.contract import Candidates, RerankRequest, RerankResponse, RuleEffectOut

AVAILABILITY = "available"


class RerankStage:
    def __init__(self, metadata: MetadataCache, embeddings: EmbeddingSource, drop_unknown: bool) -> None:
        self._metadata = metadata
        self._embeddings = embeddings
        self._drop_unknown = drop_unknown

    async def rerank(self, tenant_id: str, request: RerankRequest) -> RerankResponse:
        started = time.perf_counter()
        now = request.now if request.now is not None else time.time()
        pinned = [p.item_id for r in request.rules if isinstance(r, PinRuleConfig) for p in r.pins]
        columns = request.candidates
        metadata = await self._metadata.get_many(tenant_id, [*columns.item_ids, *pinned])
        vectors = None
        if any(isinstance(r, MMRRuleConfig) and r.by == "embedding" for r in request.rules):
            vectors = self._embeddings.current(tenant_id)
        candidates, unavailable, seen_ids = [], [], set()
        for index, (item_id, score) in enumerate(zip(columns.item_ids, columns.scores, strict=True)):
            if item_id in seen_ids:  # recall never repeats an item; a caller might
                continue
            seen_ids.add(item_id)
            meta = metadata.get(item_id)
            if (meta is None and self._drop_unknown) or (meta is not None and not meta.available(now)):
                unavailable.append(item_id)
                continue
            sources = columns.sources(index) if columns.channels else {}
            candidates.append(_candidate(item_id, score, sources, meta, vectors))
        context = RerankContext(
            now=now,
            count=request.count,
            seen=frozenset(request.seen),
            pinned_items=_pinnable(pinned, seen_ids, metadata, now, vectors),
        )
        ranked, effects = apply_rules(candidates, request.rules, context)
        out = [RuleEffectOut(rule=AVAILABILITY, removed=unavailable)] if unavailable else []
        out += [
            RuleEffectOut(rule=e.rule, moved=list(e.moved), removed=list(e.removed), pinned=list(e.pinned))
            for e in effects
        ]
        return RerankResponse(
            items=_columns(ranked, with_channels=columns.channels is not None),
            effects=out,
            ms=round((time.perf_counter() - started) * 1000.0, 3),
        )


def _columns(ranked: list[Candidate], with_channels: bool) -> Candidates:
    channels = None
    if with_channels:
        names = dict.fromkeys(name for c in ranked for name in c.sources)
        channels = {name: [c.sources.get(name) for c in ranked] for name in names}
    return Candidates.model_construct(
        item_ids=[c.item_id for c in ranked], scores=[c.score for c in ranked], channels=channels
    )


def _candidate(
    item_id: str, score: float, sources: Mapping[str, float], meta: ItemMeta | None, vectors: ItemVectors | None
) -> Candidate:
    embedding = vectors.get(item_id) if vectors is not None else None
    if meta is None:
        return Candidate(item_id, score, sources, embedding=embedding)
    return Candidate(item_id, score, sources, meta.categories, meta.tags, meta.published_at, meta.attributes, embedding)


def _pinnable(
    pinned: list[str],
    present: set[str],
    metadata: Mapping[str, ItemMeta | None],
    now: float,
    vectors: ItemVectors | None,
) -> dict[str, Candidate]:
    """Pinned items recall did not return, when the catalog has them available (unknown ones are never invented)."""
    out = {}
    for item_id in pinned:
        meta = metadata.get(item_id)
        if item_id not in present and meta is not None and meta.available(now):
            out[item_id] = _candidate(item_id, 0.0, {}, meta, vectors)
    return out
