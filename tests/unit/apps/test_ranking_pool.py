"""apps/ranking/pool.py with a fake registry, loader and clock: what is served, when it is reloaded, and that a
request never waits for a reload once something is loaded."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import cast

import pytest

from apps.ranking.pool import Loader, RankerPool
from lemo.registry import ModelStatus, ModelVersion


def version(kind: str, number: int, inputs: Mapping[str, str] | None = None) -> ModelVersion:
    return ModelVersion(
        tenant_id="t1",
        kind=kind,
        version=number,
        run_id=f"r{number}",
        status=ModelStatus.ACTIVE,
        artifact_uri=f"file:///a/{kind}/{number}",
        inputs=dict(inputs or {}),
        created_at=0.0,
    )


class FakeRegistry:
    def __init__(self) -> None:
        self.actives: dict[tuple[str, str], ModelVersion] = {}

    async def active(self, tenant_id: str, kind: str) -> ModelVersion | None:
        return self.actives.get((tenant_id, kind))

    async def active_versions(self, limit: int = 1000) -> list[ModelVersion]:
        return list(self.actives.values())[:limit]


@dataclass(frozen=True)
class FakeModel:
    kind: str
    version: int
    channels: tuple[tuple[str, str], ...]


class FakeLoader:
    def __init__(self) -> None:
        self.loads: list[tuple[str, int]] = []
        self.fail = False
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, v: ModelVersion, inputs: Mapping[str, str]) -> FakeModel:
        self.gate.wait(10)
        if self.fail:
            raise OSError("artifact missing")
        self.loads.append((v.kind, v.version))
        return FakeModel(v.kind, v.version, tuple(sorted(inputs.items())))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Parts = tuple[RankerPool, FakeRegistry, FakeLoader, Clock]


def served_version(pool: RankerPool, kind: str) -> int:
    served, why = pool.get("t1", kind)
    assert served is not None, why
    return served.version


def channels(pool: RankerPool, kind: str) -> tuple[tuple[str, str], ...]:
    served, why = pool.get("t1", kind)
    assert served is not None, why
    return cast(FakeModel, served.model).channels


@pytest.fixture
def parts() -> Iterator[Parts]:
    registry, loader, clock = FakeRegistry(), FakeLoader(), Clock()
    pool = RankerPool(lambda: registry, cast(Loader, loader), refresh_s=30.0, first_load_wait_s=10.0, clock=clock)
    yield pool, registry, loader, clock
    pool.close()


def test_the_first_request_loads_the_active_version_and_later_ones_reuse_it(parts: Parts) -> None:
    pool, registry, loader, _ = parts
    registry.actives[("t1", "fusion")] = version("fusion", 1)
    served, why = pool.get("t1", "fusion")
    assert served is not None and (served.kind, served.version, why) == ("fusion", 1, None)
    assert pool.get("t1", "fusion")[0] is served
    assert loader.loads == [("fusion", 1)]


def test_no_active_version_says_so(parts: Parts) -> None:
    pool, *_ = parts
    assert pool.get("t1", "deepfm") == (None, "no active version")


def test_input_channels_come_from_their_active_versions_else_the_recorded_artifacts(parts: Parts) -> None:
    pool, registry, _, _ = parts
    registry.actives[("t1", "fusion")] = version("fusion", 1, {"als": "file:///old/als", "ease": "file:///e"})
    registry.actives[("t1", "als")] = version("als", 4)
    assert channels(pool, "fusion") == (("als", "file:///a/als/4"), ("ease", "file:///e"))


def test_a_newer_version_is_picked_up_after_the_refresh_interval_while_the_old_one_serves(parts: Parts) -> None:
    pool, registry, loader, clock = parts
    registry.actives[("t1", "fusion")] = version("fusion", 1)
    assert served_version(pool, "fusion") == 1
    registry.actives[("t1", "fusion")] = version("fusion", 2)
    assert served_version(pool, "fusion") == 1  # not due yet
    clock.now += 31
    loader.gate.clear()  # the reload is in flight...
    assert served_version(pool, "fusion") == 1  # ...and the request does not wait
    loader.gate.set()
    assert pool.wait_idle(10)
    assert served_version(pool, "fusion") == 2
    assert loader.loads == [("fusion", 1), ("fusion", 2)]


def test_an_activation_event_reloads_the_ranker_or_the_rankers_fusing_that_channel(parts: Parts) -> None:
    pool, registry, loader, _ = parts
    registry.actives[("t1", "fusion")] = version("fusion", 1, {"als": "file:///r/als"})
    registry.actives[("t1", "deepfm")] = version("deepfm", 1)
    pool.get("t1", "fusion")
    pool.get("t1", "deepfm")
    assert pool.on_activated("t2", "als") == 0  # another tenant's channel: nothing of t2 is served
    assert pool.on_activated("t1", "two_tower") == 0  # a channel neither ranker fuses
    registry.actives[("t1", "als")] = version("als", 2)
    assert pool.on_activated("t1", "als") == 1
    assert pool.wait_idle(10)
    assert channels(pool, "fusion") == (("als", "file:///a/als/2"),)
    registry.actives[("t1", "deepfm")] = version("deepfm", 2)
    assert pool.on_activated("t1", "deepfm") == 1
    assert pool.wait_idle(10)
    assert served_version(pool, "deepfm") == 2
    assert loader.loads == [("fusion", 1), ("deepfm", 1), ("fusion", 1), ("deepfm", 2)]


def test_an_event_for_a_ranker_this_replica_does_not_serve_yet_warms_it(parts: Parts) -> None:
    """A new tenant's first training: its ranker loads before its first request needs it."""
    pool, registry, loader, _ = parts
    registry.actives[("t9", "fusion")] = version("fusion", 1)
    assert pool.on_activated("t9", "fusion") == 1
    assert pool.wait_idle(10) and loader.loads == [("fusion", 1)]


def test_a_failed_load_keeps_the_previous_version_and_a_cold_one_says_why(parts: Parts) -> None:
    pool, registry, loader, _ = parts
    registry.actives[("t1", "fusion")] = version("fusion", 1)
    pool.get("t1", "fusion")
    registry.actives[("t1", "fusion")] = version("fusion", 2)
    loader.fail = True
    pool.on_activated("t1", "fusion")
    assert pool.wait_idle(10)
    assert served_version(pool, "fusion") == 1
    registry.actives[("t1", "deepfm")] = version("deepfm", 1)
    served, why = pool.get("t1", "deepfm")
    assert served is None and why is not None and why.startswith("load failed (OSError")
