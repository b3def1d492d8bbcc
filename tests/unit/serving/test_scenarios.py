"""lemo/serving/scenario_book.py: the scenario book's cache, its default `home`, and per-user resolution."""

from __future__ import annotations

from typing import Any

from lemo.scenarios import default_scenario
from lemo.serving.scenario_book import ScenarioBook


class FakeSource:
    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self.reads = 0

    async def get(self, tenant_id: str, scenario_id: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.docs.get((tenant_id, scenario_id))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_home_exists_until_configured_and_unknown_scenarios_do_not() -> None:
    book = ScenarioBook(FakeSource(), ttl_s=5.0)
    home = await book.resolve("t1", "home", "u1")
    assert home is not None and home.scenario_id == "home" and home.variant_id is None
    assert await book.resolve("t1", "vlog", "u1") is None


async def test_a_change_is_read_after_the_ttl_or_at_once_when_forgotten() -> None:
    source, clock = FakeSource(), Clock()
    book = ScenarioBook(source, ttl_s=5.0, clock=clock)
    configured = default_scenario("home").model_dump(mode="json", by_alias=True) | {"default_count": 7}
    assert (await book.get("t1", "home")).default_count != 7  # type: ignore[union-attr]
    source.docs[("t1", "home")] = configured
    clock.now = 4.0
    assert (await book.get("t1", "home")).default_count != 7  # type: ignore[union-attr]
    assert source.reads == 1
    clock.now = 5.5
    assert (await book.get("t1", "home")).default_count == 7  # type: ignore[union-attr]
    source.docs[("t1", "home")] = configured | {"default_count": 9}
    book.forget("t1", "home")
    assert (await book.get("t1", "home")).default_count == 9  # type: ignore[union-attr]
