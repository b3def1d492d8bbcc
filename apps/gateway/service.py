"""The public API's operations, one handler each, called by both transports: the HTTP routes (one file per URL
prefix) and the gRPC methods (apps/gateway/grpc_api.py) translate their input, call the same method here and
translate its answer back, so an operation's downstream call is written once.

Operations served by another app answer that app's response as it is (SidecarResponse): the HTTP route relays
it byte for byte (one error shape everywhere), the gRPC method decodes it or maps its error onto a status code.
The others answer a body; all raise ApiError for what the caller must be told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import status
from pydantic import ValidationError
from pydantic_core import to_json

from apps.gateway.downstream import NDJSON, Downstream
from apps.gateway.readouts import list_experiments, scenario_metrics
from apps.gateway.recommender import Mode, Recommender
from apps.gateway.settings import GatewaySettings
from apps.shared.errors import ApiError
from apps.shared.observability import EVENTS
from apps.shared.sidecar import SidecarResponse
from lemo.catalog import Item, ItemFields
from lemo.events import Event, EventBody, event_for_tenant
from lemo.experiments.readout import ExperimentList, ScenarioMetrics
from lemo.scenarios import Scenario, default_scenario, resolve
from lemo.serving.scenario_book import DEFAULT_SCENARIO
from lemo.stores.ports import ScenarioStore
from lemo.users import BatchGet, UserFields

MAX_BATCH = 1000  # events per batch
_JSON = {"content-type": "application/json"}


class PublicApi:
    def __init__(
        self, down: Downstream, settings: GatewaySettings, recommender: Recommender, scenarios: ScenarioStore
    ) -> None:
        self._down = down
        self._settings = settings
        self._recommender = recommender
        self._scenarios = scenarios

    # Items (the catalog app)

    async def create_item(self, tenant_id: str, item: Item) -> SidecarResponse:
        body = item.model_dump(mode="json", exclude_unset=True)
        return await self._down.call(self._settings.catalog_app, "POST", f"items/{tenant_id}", json=body)

    async def batch_upsert_items(self, tenant_id: str, ndjson: AsyncIterator[bytes]) -> SidecarResponse:
        return await self._ndjson(self._settings.catalog_app, f"items/{tenant_id}/_batch", ndjson)

    async def list_items(
        self,
        tenant_id: str,
        *,
        category: str | None = None,
        tag: str | None = None,
        hidden: bool | None = None,
        after: str | None = None,
        limit: int | None = None,
        q: str | None = None,
        total: bool = False,
    ) -> SidecarResponse:
        params = {"category": category, "tag": tag, "hidden": hidden, "after": after, "limit": limit, "q": q}
        params["total"] = "true" if total else None
        return await self._down.call(self._settings.catalog_app, "GET", f"items/{tenant_id}", params=params)

    async def get_item(self, tenant_id: str, item_id: str) -> SidecarResponse:
        return await self._down.call(self._settings.catalog_app, "GET", f"items/{tenant_id}/{item_id}")

    async def upsert_item(self, tenant_id: str, item_id: str, fields: ItemFields) -> SidecarResponse:
        body = fields.model_dump(mode="json", exclude_unset=True)
        return await self._down.call(self._settings.catalog_app, "PUT", f"items/{tenant_id}/{item_id}", json=body)

    async def update_item(self, tenant_id: str, item_id: str, fields: ItemFields) -> SidecarResponse:
        body = fields.model_dump(mode="json", exclude_unset=True)
        return await self._down.call(self._settings.catalog_app, "PATCH", f"items/{tenant_id}/{item_id}", json=body)

    async def delete_item(self, tenant_id: str, item_id: str) -> SidecarResponse:
        return await self._down.call(self._settings.catalog_app, "DELETE", f"items/{tenant_id}/{item_id}")

    # Users (the profiles app; their activity from the events app)

    async def list_users(
        self, tenant_id: str, *, q: str | None = None, after: str | None = None, limit: int = 100, total: bool = False
    ) -> SidecarResponse:
        params = {"q": q, "after": after, "limit": limit, "total": "true" if total else None}
        return await self._down.call(self._settings.profiles_app, "GET", f"users/{tenant_id}", params=params)

    async def batch_get_users(self, tenant_id: str, body: BatchGet) -> SidecarResponse:
        path = f"users/{tenant_id}/_batch_get"
        return await self._down.call(self._settings.profiles_app, "POST", path, json=body.model_dump())

    async def batch_upsert_users(self, tenant_id: str, ndjson: AsyncIterator[bytes]) -> SidecarResponse:
        return await self._ndjson(self._settings.profiles_app, f"users/{tenant_id}/_batch", ndjson)

    async def upsert_user(self, tenant_id: str, user_id: str, fields: UserFields) -> SidecarResponse:
        path = f"users/{tenant_id}/{user_id}"
        return await self._down.call(self._settings.profiles_app, "PUT", path, json=fields.model_dump(mode="json"))

    async def update_user(self, tenant_id: str, user_id: str, fields: UserFields) -> SidecarResponse:
        path = f"users/{tenant_id}/{user_id}"
        return await self._down.call(self._settings.profiles_app, "PATCH", path, json=fields.model_dump(mode="json"))

    async def get_user(self, tenant_id: str, user_id: str) -> SidecarResponse:
        return await self._down.call(self._settings.profiles_app, "GET", f"users/{tenant_id}/{user_id}")

    async def delete_user(self, tenant_id: str, user_id: str) -> SidecarResponse:
        return await self._down.call(self._settings.profiles_app, "DELETE", f"users/{tenant_id}/{user_id}")

    async def user_activity(self, tenant_id: str, user_id: str, limit: int) -> SidecarResponse:
        path = f"activity/{tenant_id}/{user_id}"
        return await self._down.call(self._settings.events_app, "GET", path, params={"limit": limit})

    async def realtime_features(self, tenant_id: str, user_id: str) -> SidecarResponse:
        return await self._down.call(self._settings.profiles_app, "GET", f"users/{tenant_id}/{user_id}/realtime")

    # Events (the events app)

    async def track_event(self, tenant_id: str, body: EventBody) -> SidecarResponse:
        """`body` was validated where it came in (the route, the gRPC method): taken as it is, encoded once."""
        event = to_json(Event.of(tenant_id, body))
        return await self._down.call(self._settings.events_app, "POST", "events", content=event, headers=_JSON)

    async def track_events(self, tenant_id: str, raw_events: list[Any]) -> dict[str, Any]:
        """Validates each event on its own, publishes the valid ones in one call; `results[i]` is about event i."""
        if len(raw_events) > MAX_BATCH:
            raise ApiError(
                status.HTTP_413_CONTENT_TOO_LARGE,
                "batch_too_large",
                f"at most {MAX_BATCH} events per batch",
                limit=MAX_BATCH,
                received=len(raw_events),
            )
        results: list[dict[str, Any] | None] = [None] * len(raw_events)
        valid: list[tuple[int, Event]] = []
        for i, raw in enumerate(raw_events):
            try:
                valid.append((i, event_for_tenant(tenant_id, raw)))
            except (ValidationError, TypeError) as exc:
                errors = []
                if isinstance(exc, ValidationError):  # no context: a validator's ValueError is no JSON
                    errors = exc.errors(include_url=False, include_context=False, include_input=False)
                results[i] = {
                    "event_id": raw.get("event_id") if isinstance(raw, dict) else None,
                    "status": "rejected",
                    "error": {"code": "invalid_event", "message": str(exc).splitlines()[0], "errors": errors},
                }
        if valid:
            body = to_json({"events": [e for _, e in valid]})  # typed events, encoded once (pydantic's core)
            resp = await self._down.call(
                self._settings.events_app, "POST", "events/_batch", content=body, headers=_JSON
            )
            if resp.status_code != 200:
                raise ApiError(resp.status_code, "publish_failed", resp.text[:300])
            for (i, _), result in zip(valid, resp.json()["results"], strict=True):
                results[i] = result
        accepted = sum(1 for r in results if r and r["status"] == "accepted")
        EVENTS.labels("invalid").inc(len(raw_events) - len(valid))
        return {"accepted": accepted, "rejected": len(results) - accepted, "results": results}

    async def event_stats(
        self, tenant_id: str, since: float | None = None, until: float | None = None, type: str | None = None
    ) -> SidecarResponse:
        params = {"since": since, "until": until, "type": type}
        return await self._down.call(self._settings.events_app, "GET", f"events/{tenant_id}/stats", params=params)

    # Recommendations (the read path) and experiments

    async def recommendations(
        self, tenant_id: str, user_id: str, scenario: str, count: int | None, debug: bool, mode: Mode
    ) -> dict[str, Any]:
        return await self._recommender.recommend(tenant_id, user_id, scenario, count, debug, mode)

    async def similar_items(self, tenant_id: str, item_id: str, count: int) -> SidecarResponse:
        path = f"similar/{tenant_id}/{item_id}"
        return await self._down.call(self._settings.recall_app, "GET", path, params={"k": count})

    async def popular_items(self, tenant_id: str, count: int) -> dict[str, Any]:
        items, problem = await self._recommender.pipeline.popular(tenant_id, count, set())
        body: dict[str, Any] = {
            "items": [{"item_id": i.item_id, "score": i.score} for i in items],
            "degraded": problem is not None,
        }
        if problem:
            body["reasons"] = [problem]
        return body

    async def preview(
        self, tenant_id: str, user_id: str, scenario_id: str, variant: str | None, count: int | None
    ) -> dict[str, Any]:
        """The list the user would get, explained, with `variant` forced; served to no one (no exposure)."""
        configured = await self._recommender.book.get(tenant_id, scenario_id)
        if configured is None:
            raise ApiError(status.HTTP_404_NOT_FOUND, "scenario_not_found", f"no scenario {scenario_id}")
        try:
            resolved = resolve(configured, tenant_id, user_id, variant)
        except KeyError as exc:
            raise ApiError(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown_variant", str(exc.args[0]), variant=variant
            ) from exc
        result = await self._recommender.pipeline.recommend(
            tenant_id, user_id, resolved, count or resolved.default_count, True
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

    # Scenarios (this gateway's store; the read path's scenario book forgets what changes here)

    async def put_scenario(self, tenant_id: str, scenario: Scenario) -> bool:
        """Creates or replaces the scenario; True when it is new."""
        created = await self._scenarios.put(tenant_id, scenario.model_dump(mode="json", by_alias=True))
        self._recommender.book.forget(tenant_id, scenario.scenario_id)
        return created

    async def list_scenarios(self, tenant_id: str) -> list[Scenario]:
        """The tenant's scenarios, the default one first when the tenant has not configured it."""
        stored = [Scenario.model_validate(doc) for doc in await self._scenarios.all(tenant_id)]
        if not any(s.scenario_id == DEFAULT_SCENARIO for s in stored):
            stored.insert(0, default_scenario(DEFAULT_SCENARIO))
        return stored

    async def get_scenario(self, tenant_id: str, scenario_id: str) -> Scenario:
        scenario = await self._recommender.book.get(tenant_id, scenario_id)
        if scenario is None:
            raise ApiError(status.HTTP_404_NOT_FOUND, "scenario_not_found", f"no scenario {scenario_id}")
        return scenario

    async def delete_scenario(self, tenant_id: str, scenario_id: str) -> None:
        if not await self._scenarios.delete(tenant_id, scenario_id):
            raise ApiError(status.HTTP_404_NOT_FOUND, "scenario_not_found", f"no scenario {scenario_id}")
        self._recommender.book.forget(tenant_id, scenario_id)

    async def experiments(self, tenant_id: str, since: float | None, until: float | None) -> ExperimentList:
        events_app = self._settings.events_app
        return await list_experiments(self._down, events_app, self._scenarios, tenant_id, since, until)

    async def scenario_metrics(
        self,
        tenant_id: str,
        scenario_id: str,
        since: float | None = None,
        until: float | None = None,
        interval: str | None = None,
        experiment: str | None = None,
        metric: str | None = None,
    ) -> ScenarioMetrics:
        return await scenario_metrics(
            self._down,
            self._settings.events_app,
            self._recommender.book,
            tenant_id,
            scenario_id,
            since,
            until,
            interval,
            experiment,
            metric,
        )

    async def _ndjson(self, app_id: str, path: str, ndjson: AsyncIterator[bytes]) -> SidecarResponse:
        """Streams an NDJSON body through to `path` without holding it in memory."""
        return await self._down.call(app_id, "POST", path, content=ndjson, headers={"content-type": NDJSON})
