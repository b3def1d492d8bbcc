"""apps/profiles/exposures.py: a delivery of served lists makes one actor turn per user (all of that user's lists,
in order), never one per list or per item; a malformed record is dropped, a failed turn asks for redelivery."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from apps.profiles import exposures
from lemo.realtime.messages import RecordExposures


class FakeActors:
    def __init__(self, failing: set[str]) -> None:
        self.turns: list[tuple[str, list[str]]] = []
        self.failing = failing

    def proxy(self, actor_type: str, actor_id: str, interface: type[Any]) -> Any:
        actors = self

        class Proxy:
            async def RecordExposures(self, payload: bytes) -> list[bool]:  # the actor method's name
                if actor_id in actors.failing:
                    raise RuntimeError("sidecar unreachable")
                message = RecordExposures.model_validate_json(payload)  # as the actor's runtime decodes it
                actors.turns.append((actor_id, [e.request_id for e in message.exposures]))
                return [True] * len(message.exposures)

        return Proxy()


def _entry(n: int, user: str, **change: Any) -> dict[str, Any]:
    record = {"request_id": f"r{n}", "tenant_id": "t", "user_id": user, "scenario": "home", "items": ["1", "2"]}
    return {"entryId": str(n), "event": {"data": {**record, "timestamp": 1.0, **change}}}


async def test_one_turn_per_user_with_that_users_lists_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    actors = FakeActors(failing={"t:down"})
    monkeypatch.setattr(exposures, "actor_proxy", actors.proxy)
    monkeypatch.setattr(exposures, "TURN_ATTEMPTS", 1)
    body = {
        "entries": [
            _entry(0, "a"),
            _entry(1, "b"),
            _entry(2, "a"),
            _entry(3, "a", items=["not an id!"]),
            _entry(4, "down"),
            _entry(5, "a"),
        ]
    }
    reply = await exposures.ingest_exposures_bulk(json.dumps(body).encode(), asyncio.Semaphore(4))
    assert sorted(actors.turns) == [("t:a", ["r0", "r2", "r5"]), ("t:b", ["r1"])]
    statuses = {s["entryId"]: s["status"] for s in reply["statuses"]}
    assert statuses == {"0": "SUCCESS", "1": "SUCCESS", "2": "SUCCESS", "3": "DROP", "4": "RETRY", "5": "SUCCESS"}
