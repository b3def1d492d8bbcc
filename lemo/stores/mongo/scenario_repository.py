"""Scenarios per tenant (channels, ranker, rules, experiments)."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from lemo.stores.mongo.connection import ensure_indexes


class ScenarioRepository:
    """Per-tenant scenario configurations (lemo.scenarios.Scenario), keyed "<tenant_id>/<scenario_id>"."""

    # The stored scenario without the store's own fields (Scenario forbids unknown ones).
    _SCENARIO_FIELDS: ClassVar[dict[str, Any]] = {"_id": 0, "tenant_id": 0, "updated_at": 0}

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._scenarios = db["scenarios"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._scenarios, [IndexModel([("tenant_id", ASCENDING)], name="tenant")])

    @staticmethod
    def _id(tenant_id: str, scenario_id: str) -> str:
        return f"{tenant_id}/{scenario_id}"

    async def put(self, tenant_id: str, scenario: dict[str, Any]) -> bool:
        """Creates or replaces a scenario; True when it was new."""
        doc = {**scenario, "tenant_id": tenant_id, "updated_at": time.time()}
        result = await self._scenarios.replace_one(
            {"_id": self._id(tenant_id, scenario["scenario_id"])}, doc, upsert=True
        )
        return result.upserted_id is not None

    async def get(self, tenant_id: str, scenario_id: str) -> dict[str, Any] | None:
        return await self._scenarios.find_one(
            {"_id": self._id(tenant_id, scenario_id)}, projection=self._SCENARIO_FIELDS
        )

    async def all(self, tenant_id: str) -> list[dict[str, Any]]:
        cursor = self._scenarios.find({"tenant_id": tenant_id}, projection=self._SCENARIO_FIELDS)
        return sorted([doc async for doc in cursor], key=lambda d: str(d["scenario_id"]))

    async def delete(self, tenant_id: str, scenario_id: str) -> bool:
        result = await self._scenarios.delete_one({"_id": self._id(tenant_id, scenario_id)})
        return result.deleted_count == 1
