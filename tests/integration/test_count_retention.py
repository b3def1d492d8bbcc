"""Count retention through the events app's real sidecar and the real Redis behind the state store: every minute,
hour and day bucket of event and experiment counts carries a TTL that ends its retention, month buckets none; a
late event for an hour whose minutes are past retention writes no minute bucket, and a window over it is counted
from the hour."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from apps.shared.settings import EXPOSURES_TOPIC, PUBSUB
from tests.integration.conftest import unique
from tests.integration.mesh import App, uvicorn

REDIS_PORT = 6380  # scripts/infra.sh's Redis, behind the statestore component (keyPrefix none: key == state key)
DAY = 86400
MINUTE_DAYS, HOUR_DAYS, DAY_DAYS = 3, 40, 400  # not the defaults, so that the settings are what is checked


@pytest.fixture(scope="module")
def events(app_env: dict[str, str]) -> Iterator[App]:
    env = {
        **app_env,
        "EVENTS_COUNT_MINUTE_RETENTION_DAYS": str(MINUTE_DAYS),
        "EVENTS_COUNT_HOUR_RETENTION_DAYS": str(HOUR_DAYS),
        "EVENTS_COUNT_DAY_RETENTION_DAYS": str(DAY_DAYS),
    }
    app = App(unique("events"), uvicorn("apps.events.main"), env=env).start()
    yield app
    app.stop()


def _ttl(key: str) -> int:
    """The key's TTL in seconds as Redis reports it: -1 for a key without one, -2 for a key that does not exist."""
    out = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "TTL", key], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def _wait(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def _stats(events: App, tenant: str, since: float, until: float) -> dict[str, int]:
    resp = httpx.get(
        f"{events.sidecar}/v1.0/invoke/{events.app_id}/method/events/{tenant}/stats",
        params={"since": since, "until": until},
        headers=events.headers,
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["counts"])


def _in(ttl: int, expiry: float) -> bool:
    """Whether a TTL read now ends at `expiry` (unix seconds), give or take the seconds this test takes."""
    return abs(time.time() + ttl - expiry) < 120


def test_count_buckets_expire_after_their_retention(events: App) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    now = time.time()
    late = now - 20 * DAY  # its minutes are past the 3 days kept, its hour is not
    batch = [
        {"event_id": f"e{n}", "tenant_id": tenant, "user_id": "u", "item_id": "i", "type": "click", "timestamp": ts}
        for n, ts in enumerate((now, late))
    ]
    resp = httpx.post(
        f"{events.sidecar}/v1.0/invoke/{events.app_id}/method/events/_batch",
        json={"events": batch},
        headers=events.headers,
        timeout=30,
    )
    assert resp.status_code == 200 and resp.json()["accepted"] == 2, resp.text
    assert _wait(lambda: _stats(events, tenant, now - 60, now + 60), lambda c: c == {"click": 1}) == {"click": 1}

    at = datetime.fromtimestamp(now, UTC)
    hour_end = at.replace(minute=0, second=0, microsecond=0).timestamp() + 3600
    day_end = at.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() + DAY
    month_end = datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC).timestamp()
    key = f"evcount:{tenant}"
    minute_ttl = _ttl(f"{key}|m|{at:%Y%m%d%H}")
    assert _in(minute_ttl, hour_end + MINUTE_DAYS * DAY), minute_ttl
    assert _in(_ttl(f"{key}|h|{at:%Y%m%d}"), day_end + HOUR_DAYS * DAY)
    assert _in(_ttl(f"{key}|d|{at:%Y%m}"), month_end + DAY_DAYS * DAY)
    assert _ttl(f"{key}|M") == -1  # months are kept

    old = datetime.fromtimestamp(late, UTC)
    assert _ttl(f"{key}|m|{old:%Y%m%d%H}") == -2  # past retention when it arrived: never written
    old_day_end = old.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() + DAY
    assert _in(_ttl(f"{key}|h|{old:%Y%m%d}"), old_day_end + HOUR_DAYS * DAY)
    # Five minutes around the late event: its minutes are gone, so the window is counted from its whole hour.
    assert _stats(events, tenant, late - 150, late + 150) == {"click": 1}


def test_experiment_count_buckets_expire_too(events: App) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    now = time.time()
    record = {
        "request_id": f"r-{uuid.uuid4().hex}",
        "tenant_id": tenant,
        "user_id": "u",
        "scenario": "feed",
        "experiment": "ab",
        "variant": "a",
        "items": ["i1", "i2"],
        "timestamp": now,
    }
    resp = httpx.post(
        f"{events.sidecar}/v1.0/publish/{PUBSUB}/{EXPOSURES_TOPIC}", json=record, headers=events.headers, timeout=30
    )
    assert resp.status_code == 204, resp.text
    at = datetime.fromtimestamp(now, UTC)
    minute_key = f"xpcount:{tenant}|feed|m|{at:%Y%m%d%H}"
    minute_ttl = _wait(lambda: _ttl(minute_key), lambda ttl: ttl != -2)
    hour_end = at.replace(minute=0, second=0, microsecond=0).timestamp() + 3600
    assert _in(minute_ttl, hour_end + MINUTE_DAYS * DAY), minute_ttl
    assert _ttl(f"xpcount:{tenant}|feed|M") == -1
    # A minute series reaching back past the minutes kept is refused, an hour series over it answered.
    url = f"{events.sidecar}/v1.0/invoke/{events.app_id}/method/experiments/{tenant}/feed/counts"
    window = {"since": now - 4 * DAY, "until": now - 4 * DAY + 3600}
    gone = httpx.get(url, params={**window, "interval": "minute"}, headers=events.headers, timeout=30)
    assert gone.status_code == 422 and gone.json()["error"]["code"] == "interval_not_kept", gone.text
    assert gone.json()["error"]["details"] == {"interval": "minute", "kept_days": MINUTE_DAYS}
    hours = httpx.get(url, params={**window, "interval": "hour"}, headers=events.headers, timeout=30)
    assert hours.status_code == 200, hours.text
