"""The client SDK (lemo_client) and the `lemo` console script against the real gateway, with catalog, profiles
and events behind their real sidecars: tenants and keys, chunked and streamed NDJSON upserts with their error
lines, pagination over every page, events with client-made ids, and the error envelope as typed exceptions."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lemo_client import AsyncLemoClient, LemoClient, NotFound, Unauthorized, ValidationFailed
from tests.integration.conftest import unique
from tests.integration.mesh import ROOT, App, uvicorn

ADMIN_KEY = "it-admin-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def gateway_url(app_env: dict[str, str]) -> Iterator[str]:
    apps = {
        "catalog": App(unique("catalog"), uvicorn("apps.catalog.main"), env=app_env).start(),
        "profiles": App(unique("profiles"), uvicorn("apps.profiles.main"), env=app_env).start(),
        "events": App(unique("events"), uvicorn("apps.events.main"), env=app_env).start(),
    }
    env = {
        **app_env,
        "LEMO_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_CATALOG_APP": apps["catalog"].app_id,
        "GATEWAY_PROFILES_APP": apps["profiles"].app_id,
        "GATEWAY_EVENTS_APP": apps["events"].app_id,
    }
    apps["gateway"] = App(unique("gateway"), uvicorn("apps.gateway.main"), env=env).start()
    yield f"http://127.0.0.1:{apps['gateway'].app_port}"
    for app in apps.values():
        app.stop()


@pytest.fixture
def lemo(gateway_url: str) -> Iterator[LemoClient]:
    with LemoClient(gateway_url, admin_key=ADMIN_KEY, timeout_s=30) as client:
        client.ensure_tenant(f"t{uuid.uuid4().hex[:10]}")
        yield client


def _eventually(fetch: Any, done: Any, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while not done(value := fetch()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


def test_batches_pages_events_and_errors_through_the_gateway(lemo: LemoClient) -> None:
    rows: list[dict[str, Any]] = [{"item_id": f"i{n:04d}", "categories": ["books"]} for n in range(2500)]
    rows[1700] = {"item_id": "bad id!"}  # not an identifier: refused, reported by its line over all rows
    result = lemo.upsert_items(rows, chunk_rows=1000)
    assert (result["accepted"], result["rejected"]) == (2499, 1)
    assert [e["line"] for e in result["errors"]] == [1701]

    streamed = lemo.stream_items({"item_id": f"s{n}", "categories": ["films"]} for n in range(300))
    assert streamed["accepted"] == 300

    books = list(lemo.iter_items(page_size=400, category="books"))
    assert len(books) == 2499 and len({i["item_id"] for i in books}) == 2499
    page = lemo.list_items(limit=10, total=True)
    assert len(page["items"]) == 10 and page["next"] == page["items"][-1]["item_id"] and page["total"] == 2799

    lemo.update_item("i0001", {"title": "Dune"})
    assert lemo.get_item("i0001")["title"] == "Dune"
    with pytest.raises(NotFound) as missing:
        lemo.get_item("nothing-here")
    assert missing.value.code.endswith("not_found")

    batch = lemo.track_batch([{"user_id": "alice", "item_id": "i0001", "type": "click"}, {"user_id": "bob"}])
    assert (batch["accepted"], batch["rejected"]) == (1, 1) and batch["results"][0]["event_id"]
    sent = {"event_id": "e-1", "user_id": "alice", "item_id": "i0002", "type": "view"}
    lemo.track(sent)
    lemo.track(sent)  # the same id again: counted once
    profile = _eventually(lambda: lemo.realtime_features("alice"), lambda p: len(p["recent_items"]) >= 2)
    assert profile["type_counts"] == {"click": 1, "view": 1}
    with pytest.raises(ValidationFailed) as invalid:
        lemo.track({"user_id": "alice", "item_id": "i0001", "type": "rate"})  # a rating needs a value
    assert invalid.value.code == "invalid_request"

    with LemoClient(lemo.base_url, api_key="not-a-key") as stranger, pytest.raises(Unauthorized):
        stranger.get_item("i0001")


async def test_the_async_client_streams_and_pages_users(lemo: LemoClient) -> None:
    async with AsyncLemoClient(lemo.base_url, api_key=lemo.api_key) as client:
        result = await client.stream_users({"user_id": f"u{n:03d}", "attributes": {"n": n}} for n in range(250))
        assert result == {"accepted": 250, "rejected": 0, "errors": []}
        users = [u["user_id"] async for u in client.iter_users(page_size=100, q="u0")]
        assert users == [f"u{n:03d}" for n in range(100)]
        assert (await client.get_users(["u001", "u002"]))["users"][0]["attributes"] == {"n": 1}


def test_the_console_script_loads_a_file_through_the_gateway(gateway_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "interactions.csv"
    csv.write_text("user_id,item_id,timestamp,value\nalice,b1,1700000000,4\nbob,b2,1700000100000,\n")
    tenant = f"t{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "LEMO_ADMIN_KEY": ADMIN_KEY}
    argv = [str(ROOT / ".venv/bin/lemo"), "--gateway", gateway_url, "load", "interactions", str(csv), "--quiet"]
    done = subprocess.run([*argv, "--tenant", tenant], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["items"], report["users"], report["events_accepted"]) == (2, 2, 2)
