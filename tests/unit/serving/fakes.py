"""A fake of the read path's StageClient: stages that answer from fixed data, fail, or stall, as a test sets them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from lemo.scenarios import ResolvedScenario, default_scenario, resolve
from lemo.serving.client import StageError
from lemo.serving.contract import (
    Candidates,
    ChannelReport,
    RankRequest,
    RankResponse,
    RecallRequest,
    RecallResponse,
    RerankRequest,
    RerankResponse,
    RuleEffectOut,
    UserContext,
)
from lemo.serving.settings import ReadPathSettings

# A stage set to this fails; set to STALL it never answers (the pipeline's deadline must cut it).
DOWN = "down"
STALL = "stall"

FAST = ReadPathSettings(
    profile_deadline_s=0.05,
    recall_deadline_s=0.05,
    ranking_deadline_s=0.05,
    rerank_deadline_s=0.05,
    popular_deadline_s=0.05,
)


def home(user_id: str = "u1") -> ResolvedScenario:
    return resolve(default_scenario("home"), "t1", user_id)


@dataclass
class FakeStages:
    """Recall finds `recalled` (item -> merged score) with item_cf and popular channel scores; ranking scores an
    item by `rank_scores` (default: its recall score); rerank keeps the first `count` unseen items in order."""

    recalled: dict[str, float] = field(default_factory=lambda: {f"i{n}": 1.0 - n / 100 for n in range(30)})
    rank_scores: dict[str, float] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    recent: list[str] = field(default_factory=list)
    stored_popular_list: list[tuple[str, float]] = field(default_factory=list)
    recall_popular_list: list[tuple[str, float]] = field(default_factory=lambda: [(f"p{n}", 9.0 - n) for n in range(9)])
    rerank_keeps: int | None = None  # rerank answers at most this many (rules that removed items)
    broken: dict[str, str] = field(default_factory=dict)  # stage -> DOWN or STALL
    guard_serves: str | None = None  # the ranker guard's note: a channel's order serves in the ranker's place
    calls: dict[str, list[object]] = field(default_factory=dict)

    async def _enter(self, stage: str, request: object) -> None:
        self.calls.setdefault(stage, []).append(request)
        how = self.broken.get(stage)
        if how == DOWN:
            raise StageError(f"{stage} answered 500: boom")
        if how == STALL:
            await asyncio.sleep(10)

    async def user_context(self, tenant_id: str, user_id: str) -> UserContext:
        await self._enter("profile", user_id)
        return UserContext(user_id=user_id, recent_items=self.recent)

    async def recall(self, tenant_id: str, request: RecallRequest) -> RecallResponse:
        await self._enter("recall", request)
        ids = list(self.recalled)
        channels = None
        if request.channel_scores:
            channels = {
                "item_cf": [float(n) for n in range(len(ids))],
                "popular": [None if n % 2 else 0.5 for n in range(len(ids))],
            }
        candidates = Candidates(item_ids=ids, scores=list(self.recalled.values()), channels=channels)
        reports = [ChannelReport(name="item_cf", ok=True, count=len(ids), version=3)]
        return RecallResponse(candidates=candidates, channels=reports, seen=self.seen)

    async def rank(self, tenant_id: str, request: RankRequest) -> RankResponse:
        await self._enter("ranking", request)
        c = request.candidates
        scores = [self.rank_scores.get(i, s) for i, s in zip(c.item_ids, c.scores, strict=True)]
        return RankResponse(scores=scores, ranker=request.ranker, version=7, serves=self.guard_serves)

    async def rerank(self, tenant_id: str, request: RerankRequest) -> RerankResponse:
        await self._enter("rerank", request)
        c, seen = request.candidates, set(request.seen)
        kept = [i for i, item_id in enumerate(c.item_ids) if item_id not in seen]
        kept = kept[: min(request.count, self.rerank_keeps if self.rerank_keeps is not None else request.count)]
        effects = [RuleEffectOut(rule="exclude_seen", removed=[i for i in c.item_ids if i in seen])]
        return RerankResponse(items=c.take(kept), effects=effects)

    async def stored_popular(self, tenant_id: str) -> list[tuple[str, float]]:
        await self._enter("stored_popular", tenant_id)
        return self.stored_popular_list

    async def popular(self, tenant_id: str, k: int) -> list[tuple[str, float]]:
        await self._enter("popular", k)
        return self.recall_popular_list[:k]
