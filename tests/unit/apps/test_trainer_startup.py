"""The trainer's workflow worker connects after the sidecar's first health probe (apps/trainer/startup.py), or
after a bounded wait when no probe comes."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from fastapi import FastAPI
from fastapi.testclient import TestClient

from apps.trainer.startup import HealthProbes, start_after_first_probe


class _Runtime:
    def __init__(self) -> None:
        self.started_at: float | None = None

    def start(self) -> None:
        self.started_at = time.monotonic()


def test_the_first_answered_health_probe_is_noted_and_nothing_else_counts() -> None:
    answered = asyncio.Event()
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/other")
    async def other() -> dict[str, str]:
        return {}

    app.add_middleware(HealthProbes, answered=answered)
    with TestClient(app) as client:
        assert client.get("/other").status_code == 200
        assert not answered.is_set()
        assert client.get("/healthz").status_code == 200
        assert answered.is_set()


def test_the_worker_starts_only_after_the_probe_and_the_settle_time() -> None:
    async def scenario() -> tuple[_Runtime, float]:
        runtime, answered = _Runtime(), asyncio.Event()
        starting = asyncio.create_task(start_after_first_probe(cast(Any, runtime), answered, 0.05, give_up_s=10))
        await asyncio.sleep(0.1)
        assert runtime.started_at is None  # no probe yet: not connected
        probed_at = time.monotonic()
        answered.set()
        await asyncio.wait_for(starting, 5)
        return runtime, probed_at

    runtime, probed_at = asyncio.run(scenario())
    assert runtime.started_at is not None and runtime.started_at >= probed_at + 0.05


def test_without_a_probe_the_worker_starts_after_the_bounded_wait() -> None:
    async def scenario() -> _Runtime:
        runtime = _Runtime()
        await asyncio.wait_for(start_after_first_probe(cast(Any, runtime), asyncio.Event(), 0.0, give_up_s=0.1), 5)
        return runtime

    assert asyncio.run(scenario()).started_at is not None
