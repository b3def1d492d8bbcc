"""/v1/preview: what a user would get in a scenario, with a chosen experiment variant, explained.

The operator console's side-by-side view (and anyone comparing variants) asks for one list per variant for the same
user. A preview runs the same online pipeline as `/v1/users/{id}/recommendations?debug=true`, but it is not served
to anyone: no exposure record is logged, so previews never count in an experiment's readout or in the user's
recently shown items.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, status

from apps.gateway.auth import Principal, Reader
from apps.gateway.recommend import Recommender
from apps.shared.errors import ApiError
from lemo.events import Identifier
from lemo.scenarios import ScenarioId, resolve
from lemo.serving.scenarios import DEFAULT_SCENARIO

router = APIRouter(prefix="/v1/preview", tags=["recommendations"])


@router.get("")
async def preview(
    request: Request,
    user_id: Identifier,
    scenario: ScenarioId = DEFAULT_SCENARIO,
    variant: ScenarioId | None = Query(None, description="a variant of the scenario's experiment; default: the user's"),
    count: int | None = Query(None, ge=1, le=200),
    who: Principal = Reader,
) -> dict[str, Any]:
    """The list `user_id` would get, with `debug` explanations; `variant` forces that experiment variant."""
    recommender: Recommender = request.app.state.recommender
    configured = await recommender.book.get(who.tenant_id, scenario)
    if configured is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, "scenario_not_found", f"no scenario {scenario}")
    try:
        resolved = resolve(configured, who.tenant_id, user_id, variant)
    except KeyError as exc:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown_variant", str(exc.args[0]), variant=variant
        ) from exc
    result = await recommender.pipeline.recommend(
        who.tenant_id, user_id, resolved, count or resolved.default_count, True
    )
    return {
        "preview": True,
        "user_id": user_id,
        "scenario": result.scenario_id,
        "experiment": result.experiment_id,
        "variant": result.variant_id,
        "degraded": result.degraded,
        "reasons": result.reasons,
        "items": [{"item_id": i.item_id, "score": round(i.score, 6), "sources": i.sources} for i in result.items],
        "debug": result.debug,
    }
