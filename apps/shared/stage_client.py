"""The read path's one Dapr adapter: lemo.serving's `StageClient` over service invocation through the caller's
sidecar (the gateway's or the feeds app's). The only code that knows the stages' invocation URLs.

Requests are encoded by pydantic-core straight from the models and answers decoded straight from the bytes into
the contract's models (no stdlib json round trip through dicts): candidate columns are the bulk of every hop.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import pydantic_core
from pydantic import BaseModel, ValidationError

from apps.shared.observability import DEGRADED, STAGE_SECONDS
from apps.shared.sidecar import SidecarHttp, SidecarUnreachable
from lemo.serving.client import StageError
from lemo.serving.contract import (
    RankRequest,
    RankResponse,
    RecallRequest,
    RecallResponse,
    RerankRequest,
    RerankResponse,
    UserContext,
)
from lemo.serving.settings import ReadPathSettings
from workflows.popularity_activities import popular_state_key

M = TypeVar("M", bound=BaseModel)

_JSON = {"content-type": "application/json"}


class DaprStageClient:
    def __init__(self, http: SidecarHttp, settings: ReadPathSettings, state_store: str) -> None:
        self._http = http  # based at the caller's sidecar, sending the Dapr API token
        self._apps = settings
        self._state_store = state_store

    async def _call(self, app_id: str, method: str, path: str, body: Any = None) -> bytes:
        content = None if body is None else pydantic_core.to_json(body, by_alias=True)
        try:
            resp = await self._http.request(
                method,
                f"/v1.0/invoke/{app_id}/method/{path}",
                content=content,
                headers=_JSON if content is not None else None,
            )
        except SidecarUnreachable as exc:
            raise StageError(f"{app_id} unreachable: {exc.__class__.__name__}") from exc
        if resp.status_code != 200:
            raise StageError(f"{app_id} answered {resp.status_code}: {resp.text[:200]}")
        return resp.content

    async def _answer(self, model: type[M], app_id: str, method: str, path: str, body: Any = None) -> M:
        content = await self._call(app_id, method, path, body)
        try:
            return model.model_validate_json(content)
        except ValidationError as exc:
            raise StageError(f"{app_id} answered an invalid {model.__name__}: {exc.error_count()} error(s)") from exc

    async def user_context(self, tenant_id: str, user_id: str) -> UserContext:
        return await self._answer(UserContext, self._apps.profiles_app, "GET", f"users/{tenant_id}/{user_id}/context")

    async def recall(self, tenant_id: str, request: RecallRequest) -> RecallResponse:
        return await self._answer(RecallResponse, self._apps.recall_app, "POST", f"recall/{tenant_id}", request)

    async def rank(self, tenant_id: str, request: RankRequest) -> RankResponse:
        # The ranking app is a gRPC app: its method takes the tenant in the body (apps/ranking/schemas.RankCall).
        body = {"tenant_id": tenant_id, **dict(request)}
        return await self._answer(RankResponse, self._apps.ranking_app, "POST", "rank", body)

    async def rerank(self, tenant_id: str, request: RerankRequest) -> RerankResponse:
        return await self._answer(RerankResponse, self._apps.rerank_app, "POST", f"rerank/{tenant_id}", request)

    async def stored_popular(self, tenant_id: str) -> list[tuple[str, float]]:
        try:
            resp = await self._http.get(f"/v1.0/state/{self._state_store}/{popular_state_key(tenant_id)}")
            items = resp.json().get("items", []) if resp.status_code == 200 and resp.content else []
        except (SidecarUnreachable, ValueError, AttributeError) as exc:
            raise StageError(f"popular list unavailable: {exc.__class__.__name__}") from exc
        return _scored(items)

    async def popular(self, tenant_id: str, k: int) -> list[tuple[str, float]]:
        content = await self._call(self._apps.recall_app, "GET", f"popular/{tenant_id}?k={k}")
        try:
            return _scored(json.loads(content).get("items", []))
        except (ValueError, AttributeError) as exc:
            raise StageError(f"{self._apps.recall_app} answered something other than a popular list") from exc


def _scored(items: list[dict[str, Any]]) -> list[tuple[str, float]]:
    try:
        return [(str(i["item_id"]), float(i.get("score", 0.0))) for i in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise StageError(f"a malformed popular list: {exc.__class__.__name__}") from exc


def record_stage(stage: str, scenario_id: str, seconds: float, degraded: bool) -> None:
    """The pipeline's StageObserver for the gateway: per-stage latency and degradation metrics."""
    STAGE_SECONDS.labels(stage, scenario_id).observe(seconds)
    if degraded:
        DEGRADED.labels(stage).inc()
