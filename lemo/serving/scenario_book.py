"""The scenario book: a tenant's scenarios by id, kept for a few seconds, with the experiment variant resolved per
user. Read on every recommendation (gateway) and every feed computation (workflow activities)."""

from __future__ import annotations

import time
from collections.abc import Callable

from lemo.scenarios import ResolvedScenario, Scenario, default_scenario, resolve
from lemo.stores.ports import ScenarioSource

# Every tenant has this scenario until it configures its own.
DEFAULT_SCENARIO = "home"

_MAX_CACHED = 10_000


class ScenarioBook:
    """Scenarios by (tenant, id) with a short cache. `home` exists for every tenant until it configures its own."""

    def __init__(self, source: ScenarioSource, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Scenario | None]] = {}

    async def get(self, tenant_id: str, scenario_id: str) -> Scenario | None:
        key = (tenant_id, scenario_id)
        hit = self._cache.get(key)
        if hit is not None and self._clock() - hit[0] < self._ttl_s:
            return hit[1]
        doc = await self._source.get(tenant_id, scenario_id)
        scenario = Scenario.model_validate(doc) if doc is not None else None
        if scenario is None and scenario_id == DEFAULT_SCENARIO:
            scenario = default_scenario(DEFAULT_SCENARIO)
        if len(self._cache) > _MAX_CACHED:
            self._cache.clear()
        self._cache[key] = (self._clock(), scenario)
        return scenario

    async def resolve(self, tenant_id: str, scenario_id: str, user_id: str) -> ResolvedScenario | None:
        """The scenario this user gets (experiment variant applied); None when the tenant has no such scenario."""
        scenario = await self.get(tenant_id, scenario_id)
        return resolve(scenario, tenant_id, user_id) if scenario is not None else None

    def forget(self, tenant_id: str, scenario_id: str) -> None:
        self._cache.pop((tenant_id, scenario_id), None)
