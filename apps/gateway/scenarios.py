"""/v1/scenarios: the tenant's scenario configurations (channels, quotas, weights, ranker, rule chain, filters,
default count, experiments): the old "backend-configurable features". Read on every recommendation through the
read path's scenario book (lemo.serving.scenario_book), which keeps them for a few seconds; a change is live
everywhere within that time, and at once in this gateway (the book forgets what was changed here)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from apps.gateway.auth import Principal, Reader, Writer
from apps.gateway.deps import Api
from apps.gateway.openapi import TENANT_ERRORS
from apps.shared.errors import ApiError
from lemo.scenarios import Scenario, ScenarioId

router = APIRouter(prefix="/v1/scenarios", tags=["scenarios"], responses=TENANT_ERRORS)


def _public(scenario: Scenario) -> dict[str, Any]:
    return scenario.model_dump(mode="json", by_alias=True)


@router.put("/{scenario_id}", responses={201: {"model": Scenario, "description": "created"}})
async def put_scenario(scenario_id: ScenarioId, body: Scenario, api: Api, who: Principal = Writer) -> Response:
    """Creates or replaces a scenario (201 when new)."""
    if body.scenario_id != scenario_id:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "scenario_id_mismatch", "the body's scenario_id must match the path"
        )
    created = await api.put_scenario(who.tenant_id, body)
    return Response(
        Scenario.model_validate(body).model_dump_json(by_alias=True),
        status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        media_type="application/json",
    )


@router.get("")
async def list_scenarios(api: Api, who: Principal = Reader) -> dict[str, Any]:
    return {"scenarios": [_public(s) for s in await api.list_scenarios(who.tenant_id)]}


@router.get("/{scenario_id}")
async def get_scenario(scenario_id: ScenarioId, api: Api, who: Principal = Reader) -> dict[str, Any]:
    return _public(await api.get_scenario(who.tenant_id, scenario_id))


@router.delete("/{scenario_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_scenario(scenario_id: ScenarioId, api: Api, who: Principal = Writer) -> None:
    await api.delete_scenario(who.tenant_id, scenario_id)
