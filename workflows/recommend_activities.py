"""Activities of the recommend workflow: the read path's steps, one activity each, calling the same pipeline steps
as the gateway's online path (lemo.serving.pipeline.Pipeline), then the feed saved to the state store with a TTL.

Each takes one pydantic model and returns a JSON-able dict (a step outcome of lemo.serving.pipeline). A stage that
fails degrades (the pipeline's fallbacks) instead of raising, so only the store steps (scenario lookup, saving the
feed) are retried. They run on the workflow worker's own event loop, so their clients (sidecar HTTP, MongoDB) are
opened there and kept for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dapr.aio.clients import DaprClient
from dapr.clients.grpc._state import StateItem
from dapr.ext.workflow import WorkflowActivityContext
from pydantic import BaseModel, Field
from pymongo import AsyncMongoClient

from apps.shared.sidecar import SidecarHttp, sidecar_http
from apps.shared.stage_client import DaprStageClient
from lemo.scenarios import ResolvedScenario
from lemo.serving.contract import Candidates, UserContext, feed_state_key
from lemo.serving.pipeline import Pipeline, Recommendation, shortlist
from lemo.serving.scenario_book import ScenarioBook
from lemo.serving.settings import ReadPathSettings
from lemo.stores.mongo import ScenarioRepository

logger = logging.getLogger(__name__)

RESOLVE = "resolve_scenario"
USER_CONTEXT = "user_context"
RECALL = "recall_candidates"
RANK = "rank_candidates"
RERANK = "rerank_candidates"
POPULAR = "popular_candidates"
SAVE = "save_feed"
COMPUTE_FEEDS = "compute_feeds"


class ActivityDeps(BaseModel):
    mongodb_uri: str
    mongodb_database: str
    state_store: str
    read_path: ReadPathSettings = Field(default_factory=ReadPathSettings)
    feed_ttl_s: int = 7200
    degraded_feed_ttl_s: int = 60
    # Read paths the compute_feeds activities run at once, all runs together: more only queue in the stages and
    # miss their deadlines (a degraded feed), fewer leave the cores idle.
    feeds_at_once: int = 4


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
    book: ScenarioBook
    feeds_gate: asyncio.Semaphore


_clients: _LoopClients | None = None


def _on_this_loop() -> _LoopClients:
    global _clients
    loop = asyncio.get_running_loop()
    if _clients is None or _clients.loop is not loop:
        deps = _require_deps()
        http = sidecar_http()
        pipeline = Pipeline(DaprStageClient(http, deps.read_path, deps.state_store), deps.read_path)
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            deps.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5000, appname="lemo-feeds"
        )
        book = ScenarioBook(ScenarioRepository(mongo[deps.mongodb_database]), deps.read_path.scenario_cache_ttl_s)
        _clients = _LoopClients(loop, http, DaprClient(), pipeline, book, asyncio.Semaphore(deps.feeds_at_once))
    return _clients


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
    candidates: Candidates


class RerankInput(BaseModel):
    tenant_id: str
    user_id: str
    scenario: ResolvedScenario
    count: int
    candidates: Candidates
    seen: list[str] = Field(default_factory=list)


class PopularInput(BaseModel):
    tenant_id: str
    count: int
    seen: list[str] = Field(default_factory=list)


class SaveInput(BaseModel):
    tenant_id: str
    user_id: str
    feed: Recommendation
    instance_id: str
    computed_at: float


class FeedsInput(BaseModel):
    """A chunk of a feed-refresh run (workflows/feed_refresh.py): these users' feeds for one scenario."""

    tenant_id: str
    scenario_id: str
    user_ids: list[str]
    count: int
    instance_id: str
    computed_at: float


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)


async def resolve_scenario(_: WorkflowActivityContext, request: ResolveInput) -> dict[str, Any]:
    """The scenario this user gets (experiment variant applied); {"scenario": None} when the tenant has none."""
    resolved = await _on_this_loop().book.resolve(request.tenant_id, request.scenario_id, request.user_id)
    return {"scenario": _dump(resolved) if resolved is not None else None}


async def user_context(_: WorkflowActivityContext, request: UserInput) -> dict[str, Any]:
    return _dump(await _on_this_loop().pipeline.user_context(request.tenant_id, request.user_id))


async def recall_candidates(_: WorkflowActivityContext, request: RecallInput) -> dict[str, Any]:
    """Recall's candidates with each channel's scores: a stored feed explains its items as an online debug list."""
    pipeline = _on_this_loop().pipeline
    return _dump(await pipeline.recall(request.tenant_id, request.user, request.scenario, channel_scores=True))


async def rank_candidates(_: WorkflowActivityContext, request: RankInput) -> dict[str, Any]:
    """Ranks the candidates; returns only the shortlist rerank chooses from (the workflow's history stays small)."""
    pipeline = _on_this_loop().pipeline
    outcome = await pipeline.rank(request.tenant_id, request.user, request.scenario, request.candidates)
    outcome.candidates = shortlist(outcome.candidates, request.count)
    return _dump(outcome)


async def rerank_candidates(_: WorkflowActivityContext, request: RerankInput) -> dict[str, Any]:
    """Reranks the shortlist, then tops it up with popular items when rules left too few."""
    pipeline, seen = _on_this_loop().pipeline, set(request.seen)
    outcome = await pipeline.rerank(
        request.tenant_id, request.user_id, request.scenario, request.count, request.candidates, seen
    )
    outcome.items = await pipeline.top_up(request.tenant_id, request.count, outcome.items, seen)
    return _dump(outcome)


async def popular_candidates(_: WorkflowActivityContext, request: PopularInput) -> dict[str, Any]:
    """Recall gave nothing: the tenant's popular items the user has not seen."""
    pipeline = _on_this_loop().pipeline
    return _dump(await pipeline.popular_instead(request.tenant_id, request.count, set(request.seen)))


async def save_feed(_: WorkflowActivityContext, request: SaveInput) -> dict[str, Any]:
    """Stores the feed (assembled by the workflow as the online path assembles its answer) under the feed key
    with a TTL."""
    deps, dapr = _require_deps(), _on_this_loop().dapr
    feed = request.feed
    # Which run computed the stored feed and when: the one debug entry every stored feed carries.
    feed.debug["feed"] = {"instance_id": request.instance_id, "computed_at": request.computed_at}
    key = feed_state_key(request.tenant_id, request.user_id, feed.scenario_id)
    # Over gRPC the value is stored byte for byte; the HTTP state API re-encodes JSON values with 6-digit floats.
    # A feed computed while a stage was failing is kept briefly: the next request after that recomputes it.
    await dapr.save_state(deps.state_store, key, feed.model_dump_json(), state_metadata=_ttl(deps, feed))
    return feed.model_dump(mode="json")


def _ttl(deps: ActivityDeps, feed: Recommendation) -> dict[str, str]:
    return {"ttlInSeconds": str(deps.degraded_feed_ttl_s if feed.degraded else deps.feed_ttl_s)}


async def compute_feeds(_: WorkflowActivityContext, request: FeedsInput) -> dict[str, Any]:
    """Runs the read path for each user of the chunk (a few at once) and saves their feeds in one bulk write, each
    marked with the run that computed it. A user's variant comes from the scenario book, as online."""
    deps, clients = _require_deps(), _on_this_loop()

    async def feed_of(user_id: str) -> Recommendation | None:
        async with clients.feeds_gate:
            scenario = await clients.book.resolve(request.tenant_id, request.scenario_id, user_id)
            if scenario is None:
                return None
            count = request.count or scenario.default_count
            return await clients.pipeline.recommend(
                request.tenant_id, user_id, scenario, count, debug=False, channel_scores=True
            )

    feeds = await asyncio.gather(*(feed_of(u) for u in request.user_ids))
    states = []
    run = {"instance_id": request.instance_id, "computed_at": request.computed_at}
    for user_id, feed in zip(request.user_ids, feeds, strict=True):
        if feed is None:
            continue
        feed.debug["feed"] = run
        key = feed_state_key(request.tenant_id, user_id, feed.scenario_id)
        states.append(StateItem(key=key, value=feed.model_dump_json(), metadata=_ttl(deps, feed)))
    if states:
        await clients.dapr.save_bulk_state(deps.state_store, states)
    return {
        "saved": len(states),
        "degraded_users": [u for u, f in zip(request.user_ids, feeds, strict=True) if f is not None and f.degraded],
        "scenario_not_found": any(f is None for f in feeds),
    }


ACTIVITIES: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
    RESOLVE: resolve_scenario,
    USER_CONTEXT: user_context,
    RECALL: recall_candidates,
    RANK: rank_candidates,
    RERANK: rerank_candidates,
    POPULAR: popular_candidates,
    SAVE: save_feed,
    COMPUTE_FEEDS: compute_feeds,
}
