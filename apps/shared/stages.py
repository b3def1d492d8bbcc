"""The read path: user context -> recall -> ranking -> rerank, each stage reached through the caller's sidecar with
its own deadline. The gateway (online requests) runs it as one call, `Pipeline.recommend`; the recommend workflow
(precomputed feeds, workflows/recommend.py) runs the same stage methods one activity each, so both serve the same
lists.

No stage failure becomes an error when a list can still be given: ranking down -> the recall order; rerank down
-> the ranked order minus seen items; recall down or empty -> popular items. The answer says `degraded` and why.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import pydantic_core
from pydantic import BaseModel, Field, ValidationError

from apps.shared.observability import DEGRADED, STAGE_SECONDS
from apps.shared.sidecar import SidecarHttp, SidecarUnreachable
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


class RecallOutcome(BaseModel):
    """What recall gave: candidates (empty when it failed or found none), what the user has seen, and why not."""

    answered: bool
    candidates: list[StageCandidate] = Field(default_factory=list)
    seen: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    channels: list[dict[str, Any]] | None = None


class RankOutcome(BaseModel):
    """The candidates in ranked order (the recall order when ranking failed)."""

    candidates: list[StageCandidate]
    reasons: list[str] = Field(default_factory=list)
    ranker: dict[str, Any] | None = None


class RerankOutcome(BaseModel):
    """The final items (the ranked order minus seen items when rerank failed)."""

    items: list[StageCandidate]
    reasons: list[str] = Field(default_factory=list)
    rules: list[dict[str, Any]] | None = None


def shortlist(candidates: list[StageCandidate], count: int) -> list[StageCandidate]:
    """The ranked candidates rerank chooses from."""
    return candidates[: max(count * 10, 100)]


def answer(
    scenario: ResolvedScenario,
    items: list[StageCandidate],
    reasons: list[str],
    debug: bool,
    info: dict[str, Any],
    timings: dict[str, float],
) -> Recommendation:
    return Recommendation(
        items=items,
        scenario_id=scenario.scenario_id,
        experiment_id=scenario.experiment_id,
        variant_id=scenario.variant_id,
        degraded=bool(reasons),
        reasons=reasons,
        debug={**info, "timings_ms": timings} if debug else {},
    )


_JSON = {"content-type": "application/json"}


def popular_state_key(tenant_id: str) -> str:
    """Where the popularity workflow keeps a tenant's popular list (workflows/popularity_activities.py)."""
    return f"popular:{tenant_id}"


class Pipeline:
    def __init__(self, http: SidecarHttp, apps: StageApps, deadlines: Deadlines, state_store: str) -> None:
        self._http = http  # based at the caller's sidecar, sending the Dapr API token
        self._apps = apps
        self._deadlines = deadlines
        self._state_store = state_store

    async def _call(self, app_id: str, method: str, path: str, timeout_s: float, body: Any = None) -> bytes:
        """The stage's raw answer. Bodies (pydantic models, or dicts holding them) are encoded by pydantic-core and
        answers decoded by the caller's model: candidate lists are the bulk of the gateway's work, and the stdlib
        json round trip through dicts cost about twice as much."""
        content = None if body is None else pydantic_core.to_json(body, by_alias=True)
        try:
            async with asyncio.timeout(timeout_s):
                resp = await self._http.request(
                    method,
                    f"/v1.0/invoke/{app_id}/method/{path}",
                    content=content,
                    headers=_JSON if content is not None else None,
                )
        except TimeoutError as exc:
            raise StageError(f"{app_id} took longer than {timeout_s * 1000:.0f} ms") from exc
        except SidecarUnreachable as exc:
            raise StageError(f"{app_id} unreachable: {exc.__class__.__name__}") from exc
        if resp.status_code != 200:
            raise StageError(f"{app_id} answered {resp.status_code}: {resp.text[:200]}")
        return resp.content

    async def _invoke(self, app_id: str, method: str, path: str, timeout_s: float, body: Any = None) -> Any:
        try:
            return json.loads(await self._call(app_id, method, path, timeout_s, body))
        except ValueError as exc:
            raise StageError(f"{app_id} answered something other than JSON") from exc

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
        except (TimeoutError, SidecarUnreachable, ValueError):
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

    async def recall(self, tenant_id: str, user: UserContext, scenario: ResolvedScenario) -> RecallOutcome:
        try:
            request = RecallRequest(
                user=user,
                channels=list(scenario.channel_configs().values()),
                filters=scenario.filters,
                limit=scenario.candidate_limit,
            )
            recall = RecallResponse.model_validate_json(
                await self._call(self._apps.recall, "POST", f"recall/{tenant_id}", self._deadlines.recall, request)
            )
        except (StageError, ValidationError) as exc:
            return RecallOutcome(answered=False, reasons=[f"recall unavailable ({exc})"])
        reasons = [f"channel {c.name} failed: {c.error}" for c in recall.channels if not c.ok]
        if not recall.candidates:
            reasons.append("no candidates from any channel")
        return RecallOutcome(
            answered=True,
            candidates=recall.candidates,
            seen=recall.seen,
            reasons=reasons,
            channels=[c.model_dump() for c in recall.channels],
        )

    async def popular_instead(
        self, tenant_id: str, count: int, seen: set[str]
    ) -> tuple[list[StageCandidate], list[str]]:
        """The fallback when recall gave nothing: the tenant's popular items the user has not seen."""
        items, problem = await self.popular(tenant_id, count, seen)
        return items, [*([problem] if problem else []), "served popular items"]

    async def rank(
        self, tenant_id: str, user: UserContext, scenario: ResolvedScenario, candidates: list[StageCandidate]
    ) -> RankOutcome:
        try:
            body = {
                "tenant_id": tenant_id,
                **dict(RankRequest(user=user, ranker=scenario.ranker, candidates=candidates)),
            }
            ranked = RankResponse.model_validate_json(
                await self._call(self._apps.ranking, "POST", "rank", self._deadlines.ranking, body)
            )
            if len(ranked.scores) != len(candidates):
                raise StageError(f"ranking scored {len(ranked.scores)} of {len(candidates)} candidates")
        except (StageError, ValidationError) as exc:
            return RankOutcome(
                candidates=candidates, reasons=[f"ranking unavailable ({exc}); serving the recall order"]
            )
        ordered = [
            c.model_copy(update={"score": s})
            for c, s in sorted(zip(candidates, ranked.scores, strict=True), key=lambda cs: -cs[1])
        ]
        reasons = []
        if ranked.fallback:
            reasons.append(f"ranker {scenario.ranker} fell back to {ranked.ranker}: {ranked.fallback}")
        info = {"requested": scenario.ranker, "used": ranked.ranker, "version": ranked.version}
        return RankOutcome(candidates=ordered, reasons=reasons, ranker=info)

    async def rerank(
        self,
        tenant_id: str,
        user_id: str,
        scenario: ResolvedScenario,
        count: int,
        candidates: list[StageCandidate],
        seen: set[str],
    ) -> RerankOutcome:
        """Reranks the shortlist of `candidates`; the ranked order minus seen items when rerank fails."""
        short = shortlist(candidates, count)
        try:
            rerank_request = RerankRequest(
                user_id=user_id, count=count, rules=scenario.rerank_rules(), candidates=short, seen=sorted(seen)
            )
            reranked = RerankResponse.model_validate_json(
                await self._call(
                    self._apps.rerank, "POST", f"rerank/{tenant_id}", self._deadlines.rerank, rerank_request
                )
            )
        except (StageError, ValidationError) as exc:
            return RerankOutcome(
                items=[c for c in short if c.item_id not in seen][:count],
                reasons=[f"rerank unavailable ({exc}); serving the ranked order"],
            )
        return RerankOutcome(items=reranked.items, rules=[e.model_dump() for e in reranked.effects])

    async def top_up(
        self, tenant_id: str, count: int, items: list[StageCandidate], seen: set[str]
    ) -> list[StageCandidate]:
        """Rules or exclusions that left too few items: fills up with popular items."""
        if len(items) < count:
            more, _ = await self.popular(tenant_id, count - len(items), seen | {i.item_id for i in items})
            items = items + more
        return items[:count]

    async def recommend(
        self, tenant_id: str, user_id: str, scenario: ResolvedScenario, count: int, debug: bool = False
    ) -> Recommendation:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        reasons: list[str] = []
        info: dict[str, Any] = {}

        def lap(stage: str, since: float, problems: list[str] | None = None) -> float:
            now = time.perf_counter()
            timings[stage] = round((now - since) * 1000, 2)
            STAGE_SECONDS.labels(stage, scenario.scenario_id).observe(now - since)
            if problems:
                DEGRADED.labels(stage).inc()
            return now

        user, problem = await self.user_context(tenant_id, user_id)
        mark = lap("profile", started, [problem] if problem else None)
        if problem:
            reasons.append(problem)

        recalled = await self.recall(tenant_id, user, scenario)
        reasons += recalled.reasons
        if recalled.channels is not None:
            info["channels"] = recalled.channels
        mark = lap("recall", mark, recalled.reasons)
        seen = set(recalled.seen) | set(user.recent_items)

        if not recalled.candidates:
            items, more = await self.popular_instead(tenant_id, count, seen)
            lap("popular", mark, more)
            return self._answer(scenario, items, reasons + more, debug, info, timings, started)

        ranked = await self.rank(tenant_id, user, scenario, recalled.candidates)
        reasons += ranked.reasons
        if ranked.ranker is not None:
            info["ranker"] = ranked.ranker
        mark = lap("ranking", mark, ranked.reasons)

        reranked = await self.rerank(tenant_id, user_id, scenario, count, ranked.candidates, seen)
        reasons += reranked.reasons
        if reranked.rules is not None:
            info["rules"] = reranked.rules
        lap("rerank", mark, reranked.reasons)
        items = await self.top_up(tenant_id, count, reranked.items, seen)
        return self._answer(scenario, items, reasons, debug, info, timings, started)

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
        return answer(scenario, items, reasons, debug, info, timings)
