"""Activities of the recommend workflow: the read path's stages, one activity each, calling the same stage code as
the gateway's online path (apps/shared/stages.Pipeline), then the feed saved to the state store with a TTL.

Each takes one pydantic model and returns a JSON-able dict. A stage that fails degrades (the Pipeline's fallbacks)
instead of raising, so only the store steps (scenario lookup, saving the feed) are retried. They run on the
workflow worker's own event loop, so their clients (sidecar HTTP, MongoDB) are opened there and kept for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dapr.aio.clients import DaprClient
from dapr.ext.workflow import WorkflowActivityContext
from pydantic import BaseModel, Field
from pymongo import AsyncMongoClient

from apps.shared.sidecar import SidecarHttp, sidecar_http
from apps.shared.stages import Deadlines, Pipeline, StageApps, answer, shortlist
from lemo.pipeline import StageCandidate, UserContext, feed_state_key
from lemo.scenarios import ResolvedScenario, Scenario, default_scenario, resolve
from lemo.stores.mongo import ScenarioRepository

logger = logging.getLogger(__name__)

RESOLVE = "resolve_scenario"
USER_CONTEXT = "user_context"
RECALL = "recall_candidates"
RANK = "rank_candidates"
RERANK = "rerank_candidates"
POPULAR = "popular_candidates"
SAVE = "save_feed"

# Every tenant has this scenario until it configures its own (as the gateway's scenario book).
DEFAULT_SCENARIO = "home"


class ActivityDeps(BaseModel):
    mongodb_uri: str
    mongodb_database: str
    state_store: str
    apps: dict[str, str] = Field(default_factory=dict)  # StageApps fields
    deadlines: dict[str, float] = Field(default_factory=dict)  # Deadlines fields
    feed_ttl_s: int = 3600
    degraded_feed_ttl_s: int = 60
    scenario_cache_ttl_s: float = 5.0


_deps: ActivityDeps | None = None


def configure(deps: ActivityDeps) -> None:
    """Called once by the feeds app's bootstrap before the workflow runtime starts."""
    global _deps
    _deps = deps


def _require_deps() -> ActivityDeps:
    if _deps is None:
        raise RuntimeError("workflows.recommend_activities.configure() was not called")
    return _deps


@dataclass
class _LoopClients:
    """Clients bound to one event loop: the worker's (a new loop, after a reconnect, gets new ones)."""

    loop: asyncio.AbstractEventLoop
    http: SidecarHttp
    dapr: DaprClient
    pipeline: Pipeline
    scenarios: ScenarioRepository
    cache: dict[tuple[str, str], tuple[float, Scenario | None]] = field(default_factory=dict)


_clients: _LoopClients | None = None


def _on_this_loop() -> _LoopClients:
    global _clients
    loop = asyncio.get_running_loop()
    if _clients is None or _clients.loop is not loop:
        deps = _require_deps()
        http = sidecar_http()
        pipeline = Pipeline(http, StageApps(**deps.apps), Deadlines(**deps.deadlines), deps.state_store)
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            deps.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5000, appname="lemo-feeds"
        )
        dapr = DaprClient()
        _clients = _LoopClients(loop, http, dapr, pipeline, ScenarioRepository(mongo[deps.mongodb_database]))
    return _clients


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


class ResolveInput(BaseModel):
    tenant_id: str
    user_id: str
    scenario_id: str


class UserInput(BaseModel):
    tenant_id: str
    user_id: str


class RecallInput(BaseModel):
    tenant_id: str
    user: UserContext
    scenario: ResolvedScenario


class RankInput(BaseModel):
    tenant_id: str
    user: UserContext
    scenario: ResolvedScenario
    count: int
    candidates: list[StageCandidate]


class RerankInput(BaseModel):
    tenant_id: str
    user_id: str
    scenario: ResolvedScenario
    count: int
    candidates: list[StageCandidate]
    seen: list[str] = Field(default_factory=list)


class PopularInput(BaseModel):
    tenant_id: str
    count: int
    seen: list[str] = Field(default_factory=list)


class SaveInput(BaseModel):
    tenant_id: str
    user_id: str
    scenario: ResolvedScenario
    items: list[StageCandidate]
    reasons: list[str] = Field(default_factory=list)
    debug: bool = False
    info: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    instance_id: str
    computed_at: float


async def resolve_scenario(_: WorkflowActivityContext, request: ResolveInput) -> dict[str, Any]:
    """The scenario this user gets (experiment variant applied); {"scenario": None} when the tenant has none."""
    clients, deps = _on_this_loop(), _require_deps()
    key = (request.tenant_id, request.scenario_id)
    hit = clients.cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < deps.scenario_cache_ttl_s:
        scenario = hit[1]
    else:
        doc = await clients.scenarios.get(request.tenant_id, request.scenario_id)
        scenario = Scenario.model_validate(doc) if doc is not None else None
        if scenario is None and request.scenario_id == DEFAULT_SCENARIO:
            scenario = default_scenario(DEFAULT_SCENARIO)
        if len(clients.cache) > 10_000:
            clients.cache.clear()
        clients.cache[key] = (time.monotonic(), scenario)
    if scenario is None:
        return {"scenario": None}
    return {"scenario": resolve(scenario, request.tenant_id, request.user_id).model_dump(mode="json", by_alias=True)}


async def user_context(_: WorkflowActivityContext, request: UserInput) -> dict[str, Any]:
    started = time.perf_counter()
    user, problem = await _on_this_loop().pipeline.user_context(request.tenant_id, request.user_id)
    return {"user": user.model_dump(mode="json"), "reasons": [problem] if problem else [], "ms": _ms(started)}


async def recall_candidates(_: WorkflowActivityContext, request: RecallInput) -> dict[str, Any]:
    started = time.perf_counter()
    outcome = await _on_this_loop().pipeline.recall(request.tenant_id, request.user, request.scenario)
    return {**outcome.model_dump(mode="json"), "ms": _ms(started)}


async def rank_candidates(_: WorkflowActivityContext, request: RankInput) -> dict[str, Any]:
    """Ranks the candidates; returns only the shortlist rerank chooses from (the workflow's history stays small)."""
    started = time.perf_counter()
    pipeline = _on_this_loop().pipeline
    outcome = await pipeline.rank(request.tenant_id, request.user, request.scenario, request.candidates)
    outcome.candidates = shortlist(outcome.candidates, request.count)
    return {**outcome.model_dump(mode="json"), "ms": _ms(started)}


async def rerank_candidates(_: WorkflowActivityContext, request: RerankInput) -> dict[str, Any]:
    """Reranks the shortlist, then tops it up with popular items when rules left too few."""
    started = time.perf_counter()
    pipeline, seen = _on_this_loop().pipeline, set(request.seen)
    outcome = await pipeline.rerank(
        request.tenant_id, request.user_id, request.scenario, request.count, request.candidates, seen
    )
    outcome.items = await pipeline.top_up(request.tenant_id, request.count, outcome.items, seen)
    return {**outcome.model_dump(mode="json"), "ms": _ms(started)}


async def popular_candidates(_: WorkflowActivityContext, request: PopularInput) -> dict[str, Any]:
    """Recall gave nothing: the tenant's popular items the user has not seen."""
    started = time.perf_counter()
    items, reasons = await _on_this_loop().pipeline.popular_instead(request.tenant_id, request.count, set(request.seen))
    return {"items": [i.model_dump(mode="json") for i in items], "reasons": reasons, "ms": _ms(started)}


async def save_feed(_: WorkflowActivityContext, request: SaveInput) -> dict[str, Any]:
    """Assembles the Recommendation as the online path does and stores it under the feed key with a TTL."""
    deps, dapr = _require_deps(), _on_this_loop().dapr
    feed = answer(request.scenario, request.items, request.reasons, request.debug, request.info, request.timings)
    # Which run computed the stored feed and when: the one debug entry every stored feed carries.
    feed.debug["feed"] = {"instance_id": request.instance_id, "computed_at": request.computed_at}
    key = feed_state_key(request.tenant_id, request.user_id, request.scenario.scenario_id)
    # Over gRPC the value is stored byte for byte; the HTTP state API re-encodes JSON values with 6-digit floats.
    # A feed computed while a stage was failing is kept briefly: the next request after that recomputes it.
    ttl_s = deps.degraded_feed_ttl_s if feed.degraded else deps.feed_ttl_s
    await dapr.save_state(deps.state_store, key, feed.model_dump_json(), state_metadata={"ttlInSeconds": str(ttl_s)})
    return feed.model_dump(mode="json")


ACTIVITIES: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
    RESOLVE: resolve_scenario,
    USER_CONTEXT: user_context,
    RECALL: recall_candidates,
    RANK: rank_candidates,
    RERANK: rerank_candidates,
    POPULAR: popular_candidates,
    SAVE: save_feed,
}
