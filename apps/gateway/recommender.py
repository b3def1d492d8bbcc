"""The recommender behind the public API's recommendations: scenario resolution, the three modes and exposure
logging around the shared read-path pipeline.

Three modes: `online` (default) runs recall -> ranking -> rerank now; `cached` serves the user's
precomputed feed (the feeds app keeps it fresh) and falls back to online; `workflow` asks the feeds app to run
the recommend workflow and waits for it. Every served list is logged as ONE exposure record (lemo/exposures.py:
request id, scenario, experiment, variant, the items in served order); clients echo the request id in the events
that follow, so CTR per scenario and variant joins the two.
"""

from __future__ import annotations

import logging
import time
import uuid
from enum import StrEnum
from typing import Any

from fastapi import status

from apps.gateway.downstream import Downstream
from apps.gateway.exposures import ExposureBuffer
from apps.shared.errors import ApiError
from apps.shared.observability import RECOMMENDATIONS
from apps.shared.publish import Publisher
from apps.shared.sidecar import SidecarHttp, SidecarUnreachable
from apps.shared.stage_client import DaprStageClient, record_stage
from lemo.exposures import Exposure, ServedBy
from lemo.serving.contract import feed_state_key
from lemo.serving.pipeline import Pipeline, Recommendation
from lemo.serving.scenario_book import ScenarioBook
from lemo.serving.settings import ReadPathSettings
from lemo.stores.ports import ScenarioSource

logger = logging.getLogger(__name__)


class Mode(StrEnum):
    ONLINE = "online"
    CACHED = "cached"
    WORKFLOW = "workflow"


class Recommender:
    """Scenario resolution, the three modes and exposure logging around the shared pipeline."""

    def __init__(
        self,
        pipeline: Pipeline,
        book: ScenarioBook,
        down: Downstream,
        http: SidecarHttp,
        settings: Any,
    ) -> None:
        self.pipeline = pipeline
        self.book = book
        self._down = down
        self._http = http
        self._settings = settings
        self.exposures = ExposureBuffer(
            Publisher(http, settings.pubsub_name), settings.exposure_flush_s, settings.exposure_flush_lists
        )

    async def recommend(
        self, tenant_id: str, user_id: str, scenario_id: str, count: int | None, debug: bool, mode: Mode
    ) -> dict[str, Any]:
        resolved = await self.book.resolve(tenant_id, scenario_id, user_id)
        if resolved is None:
            raise ApiError(status.HTTP_404_NOT_FOUND, "scenario_not_found", f"no scenario {scenario_id}")
        n = count or resolved.default_count
        result: Recommendation | None = None
        served_by = mode.value
        if mode is Mode.CACHED:
            result = await self._cached(tenant_id, user_id, scenario_id, n)
            if result is None:
                served_by = "online (no cached feed yet)"
        elif mode is Mode.WORKFLOW:
            result = await self._workflow(tenant_id, user_id, scenario_id, n, debug)
            if result is None:
                served_by = "online (the feeds app did not answer)"
        if result is None:
            result = await self.pipeline.recommend(tenant_id, user_id, resolved, n, debug)
        request_id = uuid.uuid4().hex
        self._log_exposure(tenant_id, user_id, request_id, result, served_by)
        RECOMMENDATIONS.labels(
            result.scenario_id, result.variant_id or "", mode.value, "true" if result.degraded else "false"
        ).inc()
        items = [{"item_id": i.item_id, "score": round(i.score, 6)} for i in result.items]
        if debug:
            items = [{**row, "sources": i.sources} for row, i in zip(items, result.items, strict=True)]
        body: dict[str, Any] = {
            "request_id": request_id,
            "user_id": user_id,
            "scenario": result.scenario_id,
            "experiment": result.experiment_id,
            "variant": result.variant_id,
            "mode": served_by,
            "degraded": result.degraded,
            "reasons": result.reasons,
            "items": items,
        }
        if debug:
            body["debug"] = result.debug
        return body

    async def _cached(self, tenant_id: str, user_id: str, scenario_id: str, count: int) -> Recommendation | None:
        key = feed_state_key(tenant_id, user_id, scenario_id)
        try:
            resp = await self._http.get(f"/v1.0/state/{self._settings.state_store}/{key}")
        except SidecarUnreachable:
            return None
        if resp.status_code != 200 or not resp.content:
            return None
        feed = Recommendation.model_validate_json(resp.content)
        if len(feed.items) < count:
            return None
        return feed.model_copy(update={"items": feed.items[:count]})

    async def _workflow(
        self, tenant_id: str, user_id: str, scenario_id: str, count: int, debug: bool
    ) -> Recommendation | None:
        try:
            resp = await self._down.call(
                self._settings.feeds_app,
                "POST",
                f"feeds/{tenant_id}/{user_id}",
                params={"scenario": scenario_id, "count": count, "debug": str(debug).lower(), "wait": "true"},
            )
        except ApiError:
            return None
        if resp.status_code != 200:
            logger.warning("feeds app answered %s: %s", resp.status_code, resp.text[:200])
            return None
        return Recommendation.model_validate(resp.json())

    def _log_exposure(
        self, tenant_id: str, user_id: str, request_id: str, result: Recommendation, served_by: str
    ) -> None:
        """One exposure record per served list, published in bulk after answering (apps/gateway/exposures.py)."""
        if not result.items:
            return
        exposure = Exposure(
            request_id=request_id,
            tenant_id=tenant_id,
            user_id=user_id,
            scenario=result.scenario_id,
            experiment=result.experiment_id,
            variant=result.variant_id,
            items=[item.item_id for item in result.items],
            mode=ServedBy(served_by.split(" ", 1)[0]),  # "online (no cached feed yet)" was served online
            degraded=result.degraded,
            timestamp=time.time(),
        )
        self.exposures.add(exposure)


def build_recommender(settings: Any, scenarios: ScenarioSource, http: SidecarHttp, down: Downstream) -> Recommender:
    read_path = ReadPathSettings.section(settings)
    pipeline = Pipeline(DaprStageClient(http, read_path, settings.state_store), read_path, observe=record_stage)
    book = ScenarioBook(scenarios, read_path.scenario_cache_ttl_s)
    return Recommender(pipeline, book, down, http, settings)
