"""Recommendations: the read path's public face.

`GET /v1/users/{user_id}/recommendations`, the old BFF's `POST /api/v1/recommendations/v2`, similar items and
popular items. Three modes: `online` (default) runs recall -> ranking -> rerank now; `cached` serves the user's
precomputed feed (the feeds app keeps it fresh) and falls back to online; `workflow` asks the feeds app to run
the recommend workflow and waits for it. Every served list is logged as ONE exposure record (lemo/exposures.py:
request id, scenario, experiment, variant, the items in served order); clients echo the request id in the events
that follow, so CTR per scenario and variant joins the two.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, Strict, StrictBool

from apps.gateway.auth import Principal, Reader
from apps.gateway.deps import Api
from apps.gateway.downstream import relayed
from apps.gateway.openapi import TENANT_ERRORS
from apps.gateway.recommender import Mode
from lemo.documents import AS_WHOLE
from lemo.events import Identifier
from lemo.scenarios import ScenarioId
from lemo.serving.scenario_book import DEFAULT_SCENARIO

router = APIRouter(tags=["recommendations"], responses=TENANT_ERRORS)


ListLength = Annotated[int, Strict(), Field(ge=1, le=200), AS_WHOLE]


class RecommendV2(BaseModel):
    """The old BFF's request body."""

    scenario_id: ScenarioId = DEFAULT_SCENARIO
    user_id: Identifier
    # Strict: `"debug": 0` or `"count": "5"` is a client bug the API names instead of guessing.
    count: ListLength | None = None
    debug: StrictBool = False


@router.get("/v1/users/{user_id}/recommendations")
async def recommendations(
    user_id: Identifier,
    api: Api,
    scenario: ScenarioId = DEFAULT_SCENARIO,
    count: int | None = Query(None, ge=1, le=200),
    debug: bool = False,
    mode: Mode = Mode.ONLINE,
    who: Principal = Reader,
) -> dict[str, Any]:
    """Personalized items for the user in a scenario. `debug=true` explains: per-stage timings, each item's
    source channels and scores, rule effects, model versions and the experiment variant."""
    return await api.recommendations(who.tenant_id, user_id, scenario, count, debug, mode)


@router.post("/api/v1/recommendations/v2")
async def recommendations_v2(body: RecommendV2, api: Api, who: Principal = Reader) -> dict[str, Any]:
    """The old BFF contract, served by the same pipeline (online)."""
    return await api.recommendations(who.tenant_id, body.user_id, body.scenario_id, body.count, body.debug, Mode.ONLINE)


@router.get("/v1/items/{item_id}/similar")
async def similar_items(
    item_id: Identifier, api: Api, count: int = Query(10, ge=1, le=200), who: Principal = Reader
) -> Response:
    return relayed(await api.similar_items(who.tenant_id, item_id, count))


@router.get("/v1/popular")
async def popular_items(api: Api, count: int = Query(10, ge=1, le=200), who: Principal = Reader) -> Response:
    return Response(json.dumps(await api.popular_items(who.tenant_id, count)), media_type="application/json")
