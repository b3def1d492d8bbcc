"""The read path as one call: user context -> recall -> ranking -> rerank, each stage reached through the
caller's sidecar with its own deadline. Shared by the gateway (online requests) and the recommend workflow
(precomputed feeds), so both serve the same lists.

No stage failure becomes an error when a list can still be given: ranking down -> the recall order; rerank down
-> the ranked order minus seen items; recall down or empty -> popular items. The answer says `degraded` and why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, Field, ValidationError

from lemo.pipeline import (
    RankRequest,
    RankResponse,
    RecallRequest,
    RecallResponse,
    RerankRequest,
    RerankResponse,
    StageCandidate,
    UserContext,
)
from lemo.scenarios import ResolvedScenario

logger = logging.getLogger(__name__)


class StageError(RuntimeError):
    pass


@dataclass(frozen=True)
class StageApps:
    profiles: str = "profiles"
    recall: str = "recall"
    ranking: str = "ranking"
    rerank: str = "rerank"


@dataclass(frozen=True)
class Deadlines:
    """Seconds each stage may take before the pipeline goes on without it."""

    profile: float = 0.1
    recall: float = 0.3
    ranking: float = 0.2
    rerank: float = 0.1
    popular: float = 0.1


class Recommendation(BaseModel):
    items: list[StageCandidate]
    scenario_id: str
    experiment_id: str | None = None
    variant_id: str | None = None
    degraded: bool = False
    reasons: list[str] = Field(default_factory=list)
    debug: dict[str, Any] = Field(default_factory=dict)


def popular_state_key(tenant_id: str) -> str:
    """Where the popularity workflow keeps a tenant's popular list (workflows/popularity_activities.py)."""
    return f"popular:{tenant_id}"


class Pipeline:
    def __init__(self, http: httpx.AsyncClient, apps: StageApps, deadlines: Deadlines, state_store: str) -> None:
        self._http = http  # based at the caller's sidecar, sending the Dapr API token
        self._apps = apps
        self._deadlines = deadlines
        self._state_store = state_store

    async def _invoke(self, app_id: str, method: str, path: str, timeout_s: float, body: Any = None) -> Any:
        try:
            async with asyncio.timeout(timeout_s):
                resp = await self._http.request(method, f"/v1.0/invoke/{app_id}/method/{path}", json=body)
        except TimeoutError as exc:
            raise StageError(f"{app_id} took longer than {timeout_s * 1000:.0f} ms") from exc
        except httpx.HTTPError as exc:
            raise StageError(f"{app_id} unreachable: {exc.__class__.__name__}") from exc
        if resp.status_code != 200:
            raise StageError(f"{app_id} answered {resp.status_code}: {resp.text[:200]}")
        return resp.json()

    async def user_context(self, tenant_id: str, user_id: str) -> tuple[UserContext, str | None]:
        try:
            body = await self._invoke(
                self._apps.profiles, "GET", f"users/{tenant_id}/{user_id}/context", self._deadlines.profile
            )
            return UserContext.model_validate(body), None
        except (StageError, ValidationError) as exc:
            return UserContext(user_id=user_id), f"user profile unavailable ({exc}); recommending as for a new user"

    async def popular(self, tenant_id: str, count: int, exclude: set[str]) -> tuple[list[StageCandidate], str | None]:
        """The tenant's popular items: the popularity workflow's list in the state store, else the recall app's."""
        try:
            async with asyncio.timeout(self._deadlines.popular):
                resp = await self._http.get(f"/v1.0/state/{self._state_store}/{popular_state_key(tenant_id)}")
            items = resp.json().get("items", []) if resp.status_code == 200 and resp.content else []
        except (TimeoutError, httpx.HTTPError, ValueError):
            items = []
        if not items:
            try:
                body = await self._invoke(
                    self._apps.recall, "GET", f"popular/{tenant_id}?k={count + len(exclude)}", self._deadlines.popular
                )
                items = body.get("items", [])
            except StageError as exc:
                return [], f"no popular items either ({exc})"
        chosen = [
            StageCandidate(item_id=str(i["item_id"]), score=float(i.get("score", 0.0)), sources={"popular": 1.0})
            for i in items
            if str(i["item_id"]) not in exclude
        ]
        return chosen[:count], None

    async def recommend(
        self, tenant_id: str, user_id: str, scenario: ResolvedScenario, count: int, debug: bool = False
    ) -> Recommendation:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        reasons: list[str] = []
        info: dict[str, Any] = {}

        def lap(stage: str, since: float) -> float:
            now = time.perf_counter()
            timings[stage] = round((now - since) * 1000, 2)
            return now

        user, problem = await self.user_context(tenant_id, user_id)
        mark = lap("profile", started)
        if problem:
            reasons.append(problem)

        recall: RecallResponse | None = None
        try:
            request = RecallRequest(
                user=user,
                channels=list(scenario.channel_configs().values()),
                filters=scenario.filters,
                limit=scenario.candidate_limit,
            )
            recall = RecallResponse.model_validate(
                await self._invoke(
                    self._apps.recall, "POST", f"recall/{tenant_id}", self._deadlines.recall, request.model_dump()
                )
            )
            reasons += [f"channel {c.name} failed: {c.error}" for c in recall.channels if not c.ok]
            info["channels"] = [c.model_dump() for c in recall.channels]
        except (StageError, ValidationError) as exc:
            reasons.append(f"recall unavailable ({exc})")
        mark = lap("recall", mark)
        seen = set(recall.seen if recall else []) | set(user.recent_items)

        if recall is None or not recall.candidates:
            if recall is not None:
                reasons.append("no candidates from any channel")
            items, problem = await self.popular(tenant_id, count, seen)
            lap("popular", mark)
            if problem:
                reasons.append(problem)
            reasons.append("served popular items")
            return self._answer(scenario, items, reasons, debug, info, timings, started)

        candidates = recall.candidates
        try:
            body = {
                "tenant_id": tenant_id,
                **RankRequest(user=user, ranker=scenario.ranker, candidates=candidates).model_dump(),
            }
            ranked = RankResponse.model_validate(
                await self._invoke(self._apps.ranking, "POST", "rank", self._deadlines.ranking, body)
            )
            if len(ranked.scores) != len(candidates):
                raise StageError(f"ranking scored {len(ranked.scores)} of {len(candidates)} candidates")
            candidates = [
                c.model_copy(update={"score": s})
                for c, s in sorted(zip(candidates, ranked.scores, strict=True), key=lambda cs: -cs[1])
            ]
            info["ranker"] = {"requested": scenario.ranker, "used": ranked.ranker, "version": ranked.version}
            if ranked.fallback:
                reasons.append(f"ranker {scenario.ranker} fell back to {ranked.ranker}: {ranked.fallback}")
        except (StageError, ValidationError) as exc:
            reasons.append(f"ranking unavailable ({exc}); serving the recall order")
        mark = lap("ranking", mark)

        shortlist = candidates[: max(count * 10, 100)]
        try:
            rerank_request = RerankRequest(
                user_id=user_id, count=count, rules=scenario.rerank_rules(), candidates=shortlist, seen=sorted(seen)
            )
            reranked = RerankResponse.model_validate(
                await self._invoke(
                    self._apps.rerank,
                    "POST",
                    f"rerank/{tenant_id}",
                    self._deadlines.rerank,
                    rerank_request.model_dump(mode="json", by_alias=True),
                )
            )
            items = reranked.items
            info["rules"] = [e.model_dump() for e in reranked.effects]
        except (StageError, ValidationError) as exc:
            reasons.append(f"rerank unavailable ({exc}); serving the ranked order")
            items = [c for c in shortlist if c.item_id not in seen][:count]
        lap("rerank", mark)
        if len(items) < count:  # rules or exclusions left too few: top up with popular items
            more, _ = await self.popular(tenant_id, count - len(items), seen | {i.item_id for i in items})
            items = items + more
        return self._answer(scenario, items[:count], reasons, debug, info, timings, started)

    @staticmethod
    def _answer(
        scenario: ResolvedScenario,
        items: list[StageCandidate],
        reasons: list[str],
        debug: bool,
        info: dict[str, Any],
        timings: dict[str, float],
        started: float,
    ) -> Recommendation:
        timings["total"] = round((time.perf_counter() - started) * 1000, 2)
        return Recommendation(
            items=items,
            scenario_id=scenario.scenario_id,
            experiment_id=scenario.experiment_id,
            variant_id=scenario.variant_id,
            degraded=bool(reasons),
            reasons=reasons,
            debug={**info, "timings_ms": timings} if debug else {},
        )
