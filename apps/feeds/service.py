"""The feeds app's operations on one feed, which its /feeds routes delegate to: compute it with the recommend
workflow (and wait for it, for the gateway's mode=workflow), and read the stored one from the state store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import status

from apps.feeds.scheduler import FeedScheduler
from apps.feeds.schemas import Recommendation, RecommendRequest
from apps.feeds.settings import FeedsSettings
from apps.shared.errors import ApiError
from apps.shared.sidecar import SidecarHttp
from lemo.serving.contract import feed_state_key


@dataclass
class Feeds:
    settings: FeedsSettings
    scheduler: FeedScheduler
    http: SidecarHttp

    async def start(self, run: RecommendRequest) -> dict[str, Any]:
        """Starts the workflow; answers its instance id and the state key the feed will be stored under."""
        key = feed_state_key(run.tenant_id, run.user_id, run.scenario_id)
        return {"instance_id": await self.scheduler.start(run), "key": key}

    async def compute(self, run: RecommendRequest) -> Recommendation:
        """Runs the workflow and answers the feed it stored: 504 past the wait timeout (the run still completes
        and stores the feed), 502 when it failed, 404 for a scenario the tenant does not have."""
        wait_s = self.settings.wait_timeout_s
        try:
            instance_id, output, failure = await self.scheduler.run(run, wait_s)
        except TimeoutError as exc:
            raise ApiError(
                status.HTTP_504_GATEWAY_TIMEOUT,
                "workflow_timeout",
                f"the recommend workflow took longer than {wait_s} s; it still stores the feed",
                key=feed_state_key(run.tenant_id, run.user_id, run.scenario_id),
            ) from exc
        if failure is not None or output is None:
            raise ApiError(
                status.HTTP_502_BAD_GATEWAY, "workflow_failed", failure or "no output", instance_id=instance_id
            )
        if output.get("error") == "scenario_not_found":
            raise ApiError(status.HTTP_404_NOT_FOUND, "scenario_not_found", f"no scenario {run.scenario_id}")
        return Recommendation.model_validate(output["feed"])

    async def stored(self, tenant_id: str, user_id: str, scenario: str) -> bytes:
        """The stored feed's JSON as the state store holds it; 404 when there is none."""
        key = feed_state_key(tenant_id, user_id, scenario)
        resp = await self.http.get(f"/v1.0/state/{self.settings.state_store}/{key}")
        if resp.status_code == status.HTTP_204_NO_CONTENT or (resp.status_code == 200 and not resp.content):
            raise ApiError(status.HTTP_404_NOT_FOUND, "feed_not_found", f"no stored {scenario} feed for user {user_id}")
        if resp.status_code != 200:
            raise ApiError(status.HTTP_502_BAD_GATEWAY, "state_store_error", f"state store answered {resp.status_code}")
        return resp.content
