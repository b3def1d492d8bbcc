"""The read path: user context -> recall -> ranking -> rerank, each stage reached through a `StageClient` under its
own deadline. The gateway (online requests) runs it as one call, `Pipeline.recommend`; the recommend workflow
(precomputed feeds, workflows/recommend.py) runs the same steps one activity each and assembles the answer with
the same `Trace`, so both serve the same lists with the same reasons.

No stage failure becomes an error when a list can still be given: ranking down -> the recall order; rerank down
-> the ranked order minus seen items; recall down or empty -> popular items; rules that left too few items ->
topped up with popular items. The answer says `degraded` and why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from lemo.scenarios import ResolvedScenario
from lemo.serving.client import StageClient, StageError
from lemo.serving.contract import Candidates, RankRequest, RecallRequest, RerankRequest, ServedItem, UserContext
from lemo.serving.settings import ReadPathSettings

T = TypeVar("T")

# (stage, scenario id, seconds, degraded): how the app records per-stage timings and failures (metrics).
StageObserver = Callable[[str, str, float, bool], None]


class Recommendation(BaseModel):
    items: list[ServedItem]
    scenario_id: str
    experiment_id: str | None = None
    variant_id: str | None = None
    degraded: bool = False
    reasons: list[str] = Field(default_factory=list)
    debug: dict[str, Any] = Field(default_factory=dict)


class StepOutcome(BaseModel):
    """What one step did: why it fell short (reasons), how long it took, and what debug=true shows of it."""

    reasons: list[str] = Field(default_factory=list)
    ms: float = 0.0
    explain: dict[str, Any] = Field(default_factory=dict)  # "channels", "ranker" or "rules"


class ProfileOutcome(StepOutcome):
    user: UserContext


class RecallOutcome(StepOutcome):
    """Recall's candidates (empty when it failed or found none) and what the user has seen."""

    candidates: Candidates = Field(default_factory=Candidates)
    seen: list[str] = Field(default_factory=list)


class RankOutcome(StepOutcome):
    """The candidates in ranked order (the recall order when ranking failed)."""

    candidates: Candidates


class ItemsOutcome(StepOutcome):
    """Final items: rerank's (the ranked order minus seen items when it failed), or popular ones."""

    items: list[ServedItem]


class Trace:
    """One recommendation's reasons, debug explanations and stage timings, step by step."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.info: dict[str, Any] = {}
        self.timings: dict[str, float] = {}

    def add(self, stage: str, outcome: StepOutcome) -> None:
        self.reasons += outcome.reasons
        self.info.update(outcome.explain)
        self.timings[stage] = outcome.ms

    def answer(
        self, scenario: ResolvedScenario, items: list[ServedItem], debug: bool, total_ms: float | None = None
    ) -> Recommendation:
        """`total_ms`: the caller's wall time; without it, the time inside the stages."""
        timings = {**self.timings, "total": round(sum(self.timings.values()) if total_ms is None else total_ms, 2)}
        return Recommendation(
            items=items,
            scenario_id=scenario.scenario_id,
            experiment_id=scenario.experiment_id,
            variant_id=scenario.variant_id,
            degraded=bool(self.reasons),
            reasons=list(self.reasons),
            debug={**self.info, "timings_ms": timings} if debug else {},
        )


def shortlist(candidates: Candidates, count: int) -> Candidates:
    """The ranked candidates rerank chooses from."""
    return candidates.head(max(count * 10, 100))


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


class Pipeline:
    def __init__(self, client: StageClient, settings: ReadPathSettings, observe: StageObserver | None = None) -> None:
        self._client = client
        self._s = settings
        self._observe = observe

    async def _within(self, app_id: str, deadline_s: float, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(deadline_s):
                return await call
        except TimeoutError as exc:
            raise StageError(f"{app_id} took longer than {deadline_s * 1000:.0f} ms") from exc

    async def user_context(self, tenant_id: str, user_id: str) -> ProfileOutcome:
        started = time.perf_counter()
        try:
            user = await self._within(
                self._s.profiles_app, self._s.profile_deadline_s, self._client.user_context(tenant_id, user_id)
            )
            return ProfileOutcome(user=user, ms=_ms(started))
        except (StageError, ValidationError) as exc:
            problem = f"user profile unavailable ({exc}); recommending as for a new user"
            return ProfileOutcome(user=UserContext(user_id=user_id), reasons=[problem], ms=_ms(started))

    async def popular(self, tenant_id: str, count: int, exclude: set[str]) -> tuple[list[ServedItem], str | None]:
        """The tenant's popular items: the popularity workflow's list in the state store, else the recall app's."""
        try:
            listed = await self._within(
                "state store", self._s.popular_deadline_s, self._client.stored_popular(tenant_id)
            )
        except StageError:
            listed = []
        if not listed:
            try:
                listed = await self._within(
                    self._s.recall_app,
                    self._s.popular_deadline_s,
                    self._client.popular(tenant_id, count + len(exclude)),
                )
            except StageError as exc:
                return [], f"no popular items either ({exc})"
        chosen = [
            ServedItem(item_id=item_id, score=score, sources={"popular": 1.0})
            for item_id, score in listed
            if item_id not in exclude
        ]
        return chosen[:count], None

    async def recall(
        self, tenant_id: str, user: UserContext, scenario: ResolvedScenario, channel_scores: bool = False
    ) -> RecallOutcome:
        started = time.perf_counter()
        request = RecallRequest(
            user=user,
            channels=list(scenario.channel_configs().values()),
            filters=scenario.filters,
            limit=scenario.candidate_limit,
            channel_scores=channel_scores,
        )
        try:
            recall = await self._within(
                self._s.recall_app, self._s.recall_deadline_s, self._client.recall(tenant_id, request)
            )
        except (StageError, ValidationError) as exc:
            return RecallOutcome(reasons=[f"recall unavailable ({exc})"], ms=_ms(started))
        reasons = [f"channel {c.name} failed: {c.error}" for c in recall.channels if not c.ok]
        if not recall.candidates.item_ids:
            reasons.append("no candidates from any channel")
        return RecallOutcome(
            candidates=recall.candidates,
            seen=recall.seen,
            reasons=reasons,
            explain={"channels": [c.model_dump() for c in recall.channels]},
            ms=_ms(started),
        )

    async def popular_instead(self, tenant_id: str, count: int, seen: set[str]) -> ItemsOutcome:
        """The fallback when recall gave nothing: the tenant's popular items the user has not seen."""
        started = time.perf_counter()
        items, problem = await self.popular(tenant_id, count, seen)
        reasons = [*([problem] if problem else []), "served popular items"]
        return ItemsOutcome(items=items, reasons=reasons, ms=_ms(started))

    async def rank(
        self, tenant_id: str, user: UserContext, scenario: ResolvedScenario, candidates: Candidates
    ) -> RankOutcome:
        """The candidates by the scenario's ranker, best first (channel columns stay here: ranking needs none)."""
        started = time.perf_counter()
        request = RankRequest(user=user, ranker=scenario.ranker, candidates=candidates.without_channels())
        try:
            ranked = await self._within(
                self._s.ranking_app, self._s.ranking_deadline_s, self._client.rank(tenant_id, request)
            )
            if len(ranked.scores) != len(candidates):
                raise StageError(f"ranking scored {len(ranked.scores)} of {len(candidates)} candidates")
        except (StageError, ValidationError) as exc:
            reason = f"ranking unavailable ({exc}); serving the recall order"
            return RankOutcome(candidates=candidates, reasons=[reason], ms=_ms(started))
        scores = ranked.scores
        order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
        reasons = []
        if ranked.fallback:
            reasons.append(f"ranker {scenario.ranker} fell back to {ranked.ranker}: {ranked.fallback}")
        info: dict[str, Any] = {"requested": scenario.ranker, "used": ranked.ranker, "version": ranked.version}
        if ranked.serves:
            info["serves"] = ranked.serves  # the ranker guard's planned choice: explained, not degraded
        return RankOutcome(
            candidates=candidates.take(order, [scores[i] for i in order]),
            reasons=reasons,
            explain={"ranker": info},
            ms=_ms(started),
        )

    async def rerank(
        self,
        tenant_id: str,
        user_id: str,
        scenario: ResolvedScenario,
        count: int,
        candidates: Candidates,
        seen: set[str],
    ) -> ItemsOutcome:
        """Reranks the shortlist of `candidates`; the ranked order minus seen items when rerank fails. Items keep
        their channel scores (from `candidates`), which never travel to rerank."""
        started = time.perf_counter()
        short = shortlist(candidates, count)
        request = RerankRequest(
            user_id=user_id,
            count=count,
            rules=scenario.rerank_rules(),
            candidates=short.without_channels(),
            seen=sorted(seen),
        )
        try:
            reranked = await self._within(
                self._s.rerank_app, self._s.rerank_deadline_s, self._client.rerank(tenant_id, request)
            )
        except (StageError, ValidationError) as exc:
            kept = [i for i, item_id in enumerate(short.item_ids) if item_id not in seen][:count]
            reason = f"rerank unavailable ({exc}); serving the ranked order"
            return ItemsOutcome(items=short.take(kept).served(), reasons=[reason], ms=_ms(started))
        position = {item_id: i for i, item_id in enumerate(short.item_ids)}
        items = [
            ServedItem(
                item_id=item_id, score=score, sources=short.sources(position[item_id]) if item_id in position else {}
            )
            for item_id, score in zip(reranked.items.item_ids, reranked.items.scores, strict=True)
        ]
        return ItemsOutcome(items=items, explain={"rules": [e.model_dump() for e in reranked.effects]}, ms=_ms(started))

    async def top_up(self, tenant_id: str, count: int, items: list[ServedItem], seen: set[str]) -> list[ServedItem]:
        """Rules or exclusions that left too few items: fills up with popular items."""
        if len(items) < count:
            more, _ = await self.popular(tenant_id, count - len(items), seen | {i.item_id for i in items})
            items = items + more
        return items[:count]

    async def recommend(
        self,
        tenant_id: str,
        user_id: str,
        scenario: ResolvedScenario,
        count: int,
        debug: bool = False,
        channel_scores: bool | None = None,
    ) -> Recommendation:
        """`channel_scores` (default: `debug`): items carry the channels that found them, as a stored feed does so
        that a cached `debug=true` read explains its items like an online one."""
        started = time.perf_counter()
        trace = Trace()

        def add(stage: str, outcome: StepOutcome) -> None:
            trace.add(stage, outcome)
            if self._observe is not None:
                self._observe(stage, scenario.scenario_id, outcome.ms / 1000, bool(outcome.reasons))

        profile = await self.user_context(tenant_id, user_id)
        add("profile", profile)
        user = profile.user

        explain = debug if channel_scores is None else channel_scores
        recalled = await self.recall(tenant_id, user, scenario, channel_scores=explain)
        add("recall", recalled)
        seen = set(recalled.seen) | set(user.recent_items)

        if not recalled.candidates.item_ids:
            popular = await self.popular_instead(tenant_id, count, seen)
            add("popular", popular)
            return trace.answer(scenario, popular.items, debug, _ms(started))

        ranked = await self.rank(tenant_id, user, scenario, recalled.candidates)
        add("ranking", ranked)
        reranked = await self.rerank(tenant_id, user_id, scenario, count, ranked.candidates, seen)
        add("rerank", reranked)
        items = await self.top_up(tenant_id, count, reranked.items, seen)
        return trace.answer(scenario, items, debug, _ms(started))
