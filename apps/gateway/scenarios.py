"""/v1/scenarios: the tenant's scenario configurations (channels, quotas, weights, ranker, rule chain, filters,
default count, experiments): the old "backend-configurable features". Read on every recommendation through the
read path's scenario book (lemo.serving.scenarios), which keeps them for a few seconds; a change is live
everywhere within that time, and at once in this gateway (the book forgets what was changed here)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from apps.gateway.auth import Principal, Reader, Writer
from apps.shared.errors import ApiError
from lemo.scenarios import Scenario, ScenarioId, default_scenario
from lemo.serving.scenarios import DEFAULT_SCENARIO, ScenarioBook
from lemo.stores.mongo import ScenarioRepository

router = APIRouter(prefix="/v1/scenarios", tags=["scenarios"])


def _book(request: Request) -> ScenarioBook:
    book: ScenarioBook = request.app.state.scenarios
    return book


def _repo(request: Request) -> ScenarioRepository:
    repo: ScenarioRepository = request.app.state.scenario_repo
    return repo


def _public(scenario: Scenario) -> dict[str, Any]:
    return scenario.model_dump(mode="json", by_alias=True)


@router.put("/{scenario_id}")
async def put_scenario(scenario_id: ScenarioId, body: Scenario, request: Request, who: Principal = Writer) -> Response:
    """Creates or replaces a scenario (201 when new)."""
    if body.scenario_id != scenario_id:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "scenario_id_mismatch", "the body's scenario_id must match the path"
        )
    created = await _repo(request).put(who.tenant_id, _public(body))
    _book(request).forget(who.tenant_id, scenario_id)
    return Response(
        Scenario.model_validate(body).model_dump_json(by_alias=True),
        status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        media_type="application/json",
    )


@router.get("")
async def list_scenarios(request: Request, who: Principal = Reader) -> dict[str, Any]:
    stored = [Scenario.model_validate(doc) for doc in await _repo(request).all(who.tenant_id)]
    if not any(s.scenario_id == DEFAULT_SCENARIO for s in stored):
        stored.insert(0, default_scenario(DEFAULT_SCENARIO))
    return {"scenarios": [_public(s) for s in stored]}


@router.get("/{scenario_id}")
async def get_scenario(scenario_id: ScenarioId, request: Request, who: Principal = Reader) -> dict[str, Any]:
    scenario = await _book(request).get(who.tenant_id, scenario_id)
    if scenario is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, "scenario_not_found", f"no scenario {scenario_id}")
    return _public(scenario)


@router.delete("/{scenario_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_scenario(scenario_id: ScenarioId, request: Request, who: Principal = Writer) -> None:
    if not await _repo(request).delete(who.tenant_id, scenario_id):
        raise ApiError(status.HTTP_404_NOT_FOUND, "scenario_not_found", f"no scenario {scenario_id}")
    _book(request).forget(who.tenant_id, scenario_id)
