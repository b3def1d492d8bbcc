"""/v1/preview: what a user would get in a scenario, with a chosen experiment variant, explained.

The operator console's side-by-side view (and anyone comparing variants) asks for one list per variant for the same
user. A preview runs the same online pipeline as `/v1/users/{id}/recommendations?debug=true`, but it is not served
to anyone: no exposure record is logged, so previews never count in an experiment's readout or in the user's
recently shown items.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from apps.gateway.auth import Principal, Reader
from apps.gateway.deps import Api
from apps.gateway.openapi import TENANT_ERRORS
from lemo.events import Identifier
from lemo.scenarios import ScenarioId
from lemo.serving.scenario_book import DEFAULT_SCENARIO

router = APIRouter(prefix="/v1/preview", tags=["recommendations"], responses=TENANT_ERRORS)


@router.get("")
async def preview(
    api: Api,
    user_id: Identifier,
    scenario: ScenarioId = DEFAULT_SCENARIO,
    variant: ScenarioId | None = Query(None, description="a variant of the scenario's experiment; default: the user's"),
    count: int | None = Query(None, ge=1, le=200),
    who: Principal = Reader,
) -> dict[str, Any]:
    """The list `user_id` would get, with `debug` explanations; `variant` forces that experiment variant."""
    return await api.preview(who.tenant_id, user_id, scenario, variant, count)
