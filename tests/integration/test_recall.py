"""The recall stage through real sidecars: every channel for a MovieLens tenant's trained models (ANN in Milvus Lite
included), exclusions, deadlines, tenant isolation, /similar and /popular, and a newly activated model version
served without a restart. The hot channel reads the ItemPopularityActor shards hosted by a real profiles app."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from actors.item_popularity import popularity_actor_id
from apps.shared.settings import ITEMS_TOPIC, MODELS_TOPIC, PUBSUB
from lemo.datasets import movielens
from lemo.realtime.hot import bucket_of
from lemo.registry import ModelVersion
from lemo.scenarios import default_scenario
from lemo.stores.mongo import ItemRepository, ModelRegistry
from tests.integration.columns import rows
from tests.integration.conftest import MONGODB_URI, unique
from tests.integration.mesh import App, uvicorn
from tests.integration.trained import load_sample, train_in_process
from workflows.training_activities import activation_event

logger = logging.getLogger(__name__)

ALL_CHANNELS = ("hot", "popular", "latest", "item_cf", "user_cf", "als", "ease", "two_tower", "content", "tag")
MODEL_CHANNELS = ("popular", "item_cf", "user_cf", "als", "ease", "two_tower", "content")
USER = "1"  # a MovieLens user the models were trained on
ITEMS = {i["item_id"]: i for i in movielens.items()}
RATED_BY_USER = {r.item_id for r in movielens.ratings() if r.user_id == USER}
RATED_IN_SAMPLE = {r.item_id for r in movielens.ratings() if int(r.user_id) <= 40}  # load_sample's catalog
INTERESTS = {"c:sci-fi": 3.0, "c:war": 1.0}
# Windowed counts for the hot channel: USER rated "50" (seen: never recalled for them), not the others.
HOT_ITEMS = {"50": 9.0, "313": 7.0, "300": 5.0, "288": 3.0}


@dataclass
class Trained:
    tenant: str
    artifacts: Path
    versions: dict[str, ModelVersion]


@pytest.fixture(scope="module")
async def trained(tmp_path_factory: pytest.TempPathFactory, database_name: str) -> AsyncIterator[Trained]:
    tenant = f"t{unique('recall').split('-')[1]}"
    artifacts = tmp_path_factory.mktemp("recall-artifacts")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URI)
    try:
        await load_sample(client[database_name], tenant)
        versions = await train_in_process(MONGODB_URI, database_name, tenant, artifacts)
    finally:
        await client.close()
    yield Trained(tenant, artifacts, versions)


@pytest.fixture(scope="module")
def profiles(app_env: dict[str, str]) -> Iterator[App]:
    """Hosts the ItemPopularityActor shards the hot channel reads."""
    app = App(unique("profiles"), uvicorn("apps.profiles.main"), env=app_env).start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def recall(app_env: dict[str, str], trained: Trained, profiles: App) -> Iterator[App]:
    # The registry is re-read only hourly, so a version change seen here came from a models event. Vector
    # channels search Milvus here, however small the collection (other tests cover the exact in-memory search).
    env = {
        **app_env,
        "LEMO_ARTIFACT_URI": str(trained.artifacts),
        "RECALL_REGISTRY_RECHECK_S": "3600",
        "RECALL_EXACT_SEARCH_MAX_ITEMS": "0",
    }
    app = App(unique("recall"), uvicorn("apps.recall.main"), env=env).start()
    yield app
    app.stop()


def channels(*names: str, deadline_ms: int = 1000, quota: int = 50) -> list[dict[str, Any]]:
    return [{"name": n, "quota": quota, "deadline_ms": deadline_ms} for n in names]


def call(app: App, method: str, body: dict[str, Any] | None = None) -> httpx.Response:
    url = f"{app.sidecar}/v1.0/invoke/{app.app_id}/method/{method}"
    if body is None:
        return httpx.get(url, headers=app.headers, timeout=60)
    return httpx.post(url, json=body, headers=app.headers, timeout=60)


def recall_of(app: App, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
    """Recall's answer with its candidate columns (channel scores asked for) turned into rows."""
    resp = call(app, f"recall/{tenant}", {**body, "channel_scores": True})
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return {**result, "candidates": rows(result["candidates"])}


def reports(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in result["channels"]}


def until(probe: Any, timeout_s: float = 120.0) -> Any:
    """Polls `probe` until it returns something truthy (models load in the background on first use)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def user(user_id: str = USER, **fields: Any) -> dict[str, Any]:
    return {"user_id": user_id, **fields}


def seed_hot(app: App, tenant: str, counts: dict[str, float]) -> None:
    """Adds windowed counts through the sidecar's actor API, as the profiles app's counter does. Tests re-seed while
    they poll: the placement service is shared with other test runs whose profiles apps host the same actor type,
    and an actor moved to another host reads its state under that host's app id (so starts empty)."""
    by_shard: dict[str, dict[str, float]] = {}
    for item_id, weight in counts.items():
        by_shard.setdefault(popularity_actor_id(tenant, item_id), {})[item_id] = weight
    bucket = str(int(bucket_of(time.time())))
    for actor_id, items in by_shard.items():
        url = f"{app.sidecar}/v1.0/actors/ItemPopularityActor/{actor_id}/method/AddCounts"
        deadline = time.monotonic() + 30
        while True:
            resp = httpx.post(url, json={"buckets": {bucket: items}}, headers=app.headers, timeout=10)
            if resp.status_code < 300 or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # placement still settling for a just-started actor host
        assert resp.status_code < 300, resp.text


def publish(app: App, topic: str, data: dict[str, Any]) -> None:
    resp = httpx.post(f"{app.sidecar}/v1.0/publish/{PUBSUB}/{topic}", json=data, headers=app.headers, timeout=10)
    assert resp.status_code == 204, resp.text


# --- every channel ---------------------------------------------------------------------------------------------------


def test_popular_falls_back_to_the_popular_model_without_hot_items(recall: App, trained: Trained) -> None:
    body = until(lambda: (r := call(recall, f"popular/{trained.tenant}?k=10").json())["items"] and r)
    assert body["source"] == "popular"
    assert body["version"] == trained.versions["popular"].version
    assert len(body["items"]) == 10
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_every_channel_returns_candidates_for_a_movielens_user(recall: App, trained: Trained) -> None:
    assert set(HOT_ITEMS) <= RATED_IN_SAMPLE and "50" in RATED_BY_USER and not (set(HOT_ITEMS) - {"50"}) & RATED_BY_USER
    request = {"user": user(interests=INTERESTS), "channels": channels(*ALL_CHANNELS), "limit": 500}

    def all_answer() -> dict[str, Any] | None:
        result = recall_of(recall, trained.tenant, request)
        by_name = reports(result)
        if by_name["hot"]["count"] < len(HOT_ITEMS) - 1:
            seed_hot(recall, trained.tenant, HOT_ITEMS)
        return result if all(by_name[n]["ok"] and by_name[n]["count"] > 0 for n in ALL_CHANNELS) else None

    result = until(all_answer)
    assert result, recall_of(recall, trained.tenant, request)["channels"]
    by_name = reports(result)
    lean = call(recall, f"recall/{trained.tenant}", request).json()["candidates"]  # channel scores not asked for
    assert lean["channels"] is None and len(lean["item_ids"]) == len(lean["scores"]) > 0
    logger.info("channels for user %s: %s", USER, {n: (r["count"], r["ms"]) for n, r in by_name.items()})
    for kind in MODEL_CHANNELS:
        assert by_name[kind]["version"] == trained.versions[kind].version, kind
    assert by_name["hot"]["version"] is None and by_name["latest"]["version"] is None

    candidates = result["candidates"]
    ids = [c["item_id"] for c in candidates]
    assert len(ids) == len(set(ids)) and len(ids) > 100
    # The merge keeps every channel's own score for an item, and each channel contributed.
    found_by = {name for c in candidates for name in c["sources"]}
    assert found_by == set(ALL_CHANNELS)
    assert any(len(c["sources"]) >= 3 for c in candidates)
    scores = [c["score"] for c in candidates]
    assert scores == sorted(scores, reverse=True)
    # The user's stored history (the active run's export) is reported as seen and never recalled.
    assert RATED_BY_USER <= set(result["seen"])
    assert not RATED_BY_USER & set(ids)
    hot = [c["item_id"] for c in candidates if "hot" in c["sources"]]
    assert set(hot) == set(HOT_ITEMS) - RATED_BY_USER
    tagged = [c["item_id"] for c in candidates if "tag" in c["sources"]]
    assert all({"sci-fi", "war"} & set(ITEMS[i]["categories"]) for i in tagged)


def test_a_new_user_gets_candidates_from_recent_items_and_interests(recall: App, trained: Trained) -> None:
    recent = ["50", "172", "181"]  # the Star Wars trilogy
    request = {
        "user": user("someone-new", recent_items=recent, interests={"c:film-noir": 1.0}),
        "channels": channels("tag", "latest", "hot", "item_cf", "two_tower", "content"),
    }

    def answered() -> dict[str, Any] | None:
        result = recall_of(recall, trained.tenant, request)
        if reports(result)["hot"]["count"] == 0:
            seed_hot(recall, trained.tenant, HOT_ITEMS)
        return result if all(r["ok"] and r["count"] > 0 for r in result["channels"]) else None

    result = until(answered)
    assert result, recall_of(recall, trained.tenant, request)["channels"]
    ids = {c["item_id"] for c in result["candidates"]}
    assert set(result["seen"]) == set(recent)
    assert not ids & set(recent)
    tagged = [c["item_id"] for c in result["candidates"] if "tag" in c["sources"]]
    assert tagged and all("film-noir" in ITEMS[i]["categories"] for i in tagged)
    latest = [c for c in result["candidates"] if "latest" in c["sources"]]
    newest = max(movielens_year(c["item_id"]) for c in latest)
    assert newest == max(movielens_year(i) for i in RATED_IN_SAMPLE)


def movielens_year(item_id: str) -> int:
    return int(ITEMS[item_id].get("attributes", {}).get("year", 0))


# --- exclusions, filters, deadlines, failures -------------------------------------------------------------------------


async def test_excluded_hidden_expired_and_filtered_items_never_come_back(
    recall: App, trained: Trained, db: Any
) -> None:
    request: dict[str, Any] = {"user": user(interests=INTERESTS), "channels": channels(*ALL_CHANNELS), "limit": 200}
    first = await asyncio.to_thread(recall_of, recall, trained.tenant, request)
    top = [c["item_id"] for c in first["candidates"] if c["item_id"] not in HOT_ITEMS][:6]
    excluded, hidden, expired = top[:2], top[2:4], top[4:6]
    items = ItemRepository(db)
    for item_id in hidden:
        changed = await items.update(trained.tenant, item_id, {"hidden": True})
        publish(recall, ITEMS_TOPIC, {"op": "upsert", "item": changed})  # as the catalog app does
    for item_id in expired:
        changed = await items.update(trained.tenant, item_id, {"expires_at": "2001-01-01T00:00:00+00:00"})
        publish(recall, ITEMS_TOPIC, {"op": "upsert", "item": changed})

    def gone() -> dict[str, Any] | None:
        result = recall_of(recall, trained.tenant, {**request, "exclude": excluded})
        ids = {c["item_id"] for c in result["candidates"]}
        return result if not ids & set(hidden + expired) else None

    result = await asyncio.to_thread(until, gone, 90.0)
    assert result, "hidden/expired items still recalled"
    ids = {c["item_id"] for c in result["candidates"]}
    assert not ids & set(excluded)
    assert not ids & RATED_BY_USER
    assert len(ids) >= 150  # the others filled in

    filtered = await asyncio.to_thread(
        recall_of, recall, trained.tenant, {**request, "filters": {"include_categories": ["comedy"]}}
    )
    assert filtered["candidates"]
    assert all("comedy" in ITEMS[c["item_id"]]["categories"] for c in filtered["candidates"])


def test_a_channel_past_its_deadline_reports_a_timeout_while_the_others_fill(recall: App, trained: Trained) -> None:
    request = {
        "user": user(),
        "channels": [*channels("item_cf", "ease", "popular"), {"name": "two_tower", "deadline_ms": 1}],
    }
    until(
        lambda: all(
            r["ok"] for r in reports(recall_of(recall, trained.tenant, request)).values() if r["name"] != "two_tower"
        )
    )
    result = recall_of(recall, trained.tenant, request)
    by_name = reports(result)
    assert by_name["two_tower"]["ok"] is False
    assert by_name["two_tower"]["error"] == "timeout after 1 ms"
    assert all(by_name[n]["ok"] and by_name[n]["count"] > 0 for n in ("item_cf", "ease", "popular"))
    assert result["candidates"] and all("two_tower" not in c["sources"] for c in result["candidates"])


def test_a_tenant_without_models_gets_200_with_failed_reports(recall: App) -> None:
    request = {"user": user(recent_items=["1"]), "channels": channels(*ALL_CHANNELS)}
    # The first request reads this tenant's catalog view; on a busy store that can outlast the 1 s channel deadline.
    until(lambda: reports(recall_of(recall, "nobody-here", request))["latest"]["ok"])
    result = recall_of(recall, "nobody-here", request)
    by_name = reports(result)
    assert result["candidates"] == []
    for kind in ("item_cf", "user_cf", "als", "ease", "two_tower", "content"):
        assert by_name[kind] == {**by_name[kind], "ok": False, "error": "no active model", "version": None}
    assert by_name["popular"]["ok"] is False
    assert by_name["latest"]["ok"] and by_name["latest"]["count"] == 0, by_name["latest"]
    resp = call(recall, "similar/nobody-here/1")
    assert resp.status_code == 200 and resp.json()["items"] == [] and resp.json()["source"] is None


async def test_tenants_never_see_each_other(recall: App, trained: Trained, db: Any, tenant: str) -> None:
    """Tenant B has its own catalog and no models: nothing of tenant A's comes back, however B's user looks."""
    await ItemRepository(db).upsert_many(
        tenant,
        [
            (f"b{n}", {"title": f"B film {n}", "categories": ["sci-fi"], "published_at": f"20{10 + n}-01-01"})
            for n in range(5)
        ],
    )
    request = {
        "user": user(recent_items=["50", "172"], interests=INTERESTS),
        "channels": channels(*ALL_CHANNELS),
    }

    def answered() -> dict[str, Any] | None:
        result = recall_of(recall, tenant, request)
        if reports(result)["hot"]["count"] > 0:
            return result
        seed_hot(recall, tenant, {"b1": 2.0})
        return None

    result = await asyncio.to_thread(until, answered, 30.0)
    assert result
    ids = {c["item_id"] for c in result["candidates"]}
    assert ids and ids <= {f"b{n}" for n in range(5)}
    by_name = reports(result)
    assert by_name["item_cf"]["error"] == "no active model"
    assert by_name["tag"]["ok"] and by_name["latest"]["ok"]
    assert set(result["seen"]) == {"50", "172"}  # A's stored history is A's
    popular = (await asyncio.to_thread(call, recall, f"popular/{tenant}")).json()
    assert [i["item_id"] for i in popular["items"]] == ["b1"] and popular["source"] == "hot"
    assert (await asyncio.to_thread(call, recall, f"similar/{tenant}/50")).json()["items"] == []


# --- /similar and /popular -------------------------------------------------------------------------------------------


def test_similar_items_come_from_item_cf(recall: App, trained: Trained) -> None:
    body = until(lambda: (r := call(recall, f"similar/{trained.tenant}/50?k=10").json())["items"] and r)
    assert body["source"] == "item_cf" and body["version"] == trained.versions["item_cf"].version
    ids = [i["item_id"] for i in body["items"]]
    assert len(ids) == 10 and "50" not in ids
    assert {"172", "181"} & set(ids)  # the sequels


def test_popular_serves_hot_items_first(recall: App, trained: Trained) -> None:
    def hot() -> dict[str, Any] | None:
        body: dict[str, Any] = call(recall, f"popular/{trained.tenant}?k=3").json()
        if [i["item_id"] for i in body["items"]] == ["50", "313", "300"]:
            return body
        seed_hot(recall, trained.tenant, HOT_ITEMS)  # adds the same weights again: the order stays
        return None

    body = until(hot, 30)
    assert body, call(recall, f"popular/{trained.tenant}?k=3").json()
    assert body["source"] == "hot" and body["version"] is None


def test_channel_latencies_of_the_default_scenario(recall: App, trained: Trained) -> None:
    """Not a timing assertion: logs each channel's median ms (warm) for the report."""
    request = {
        "user": user(interests=INTERESTS),
        "channels": [c.model_dump() for c in default_scenario().channels],
    }
    for _ in range(3):
        recall_of(recall, trained.tenant, request)
    ms: dict[str, list[float]] = {}
    total = []
    for _ in range(20):
        started = time.perf_counter()
        for r in recall_of(recall, trained.tenant, request)["channels"]:
            ms.setdefault(r["name"], []).append(r["ms"])
        total.append((time.perf_counter() - started) * 1000)
    logger.info(
        "median ms per channel: %s; request through the sidecar: %.1f ms",
        {n: round(statistics.median(v), 2) for n, v in ms.items()},
        statistics.median(total),
    )
    assert set(ms) == {c.name for c in default_scenario().channels}


# --- hot reload ------------------------------------------------------------------------------------------------------


async def test_a_newly_activated_version_is_served_without_a_restart(
    recall: App, trained: Trained, database_name: str
) -> None:
    request = {"user": user(), "channels": channels("item_cf", "two_tower")}
    before = reports(await asyncio.to_thread(recall_of, recall, trained.tenant, request))
    assert before["item_cf"]["version"] == trained.versions["item_cf"].version
    pid = recall._app.pid if recall._app else None

    newer = await train_in_process(
        MONGODB_URI, database_name, trained.tenant, trained.artifacts, kinds=("item_cf", "two_tower")
    )
    assert newer["item_cf"].version > trained.versions["item_cf"].version
    for kind in ("item_cf", "two_tower"):
        publish(recall, MODELS_TOPIC, activation_event(trained.tenant, newer[kind]))
        publish(recall, MODELS_TOPIC, activation_event(trained.tenant, newer[kind]))  # a redelivery is a no-op

    def reloaded() -> dict[str, Any] | None:
        by_name = reports(recall_of(recall, trained.tenant, request))
        versions = {n: by_name[n]["version"] for n in ("item_cf", "two_tower")}
        return by_name if versions == {k: newer[k].version for k in versions} else None

    after = await asyncio.to_thread(until, reloaded, 60.0)
    assert after, reports(await asyncio.to_thread(recall_of, recall, trained.tenant, request))
    assert after["item_cf"]["count"] > 0 and after["two_tower"]["count"] > 0  # the new run's Milvus file is searched
    assert (recall._app.pid if recall._app else None) == pid


async def test_a_missed_event_heals_at_the_next_registry_check(
    recall: App, trained: Trained, app_env: dict[str, str], db: Any
) -> None:
    """A second recall app re-reads the registry every second; a rollback made without any models event reaches
    it, while the first app (hourly re-checks) keeps what the last event told it."""
    env = {**app_env, "LEMO_ARTIFACT_URI": str(trained.artifacts), "RECALL_REGISTRY_RECHECK_S": "1"}
    healing = await asyncio.to_thread(App(unique("recall"), uvicorn("apps.recall.main"), env=env).start)
    try:
        request = {"user": user(), "channels": channels("item_cf")}  # no vector channel: the first app owns the file
        registry = ModelRegistry(db)
        current = await registry.active(trained.tenant, "item_cf")
        assert current is not None and current.version > trained.versions["item_cf"].version

        def serves(app: App, version: int) -> bool:
            return bool(reports(recall_of(app, trained.tenant, request))["item_cf"]["version"] == version)

        assert await asyncio.to_thread(until, lambda: serves(healing, current.version), 60.0)
        await registry.activate(trained.tenant, "item_cf", trained.versions["item_cf"].version)  # no event
        assert await asyncio.to_thread(until, lambda: serves(healing, trained.versions["item_cf"].version), 30.0)
        assert serves(recall, current.version)
    finally:
        await asyncio.to_thread(healing.stop)
