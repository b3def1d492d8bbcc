"""The rerank stage through a real sidecar: item metadata from the tenant's catalog in MongoDB, every rule of the
chain, the effects it reports, and tenant isolation of the metadata."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from lemo.stores.mongo import ItemRepository
from tests.integration.columns import columns, rows
from tests.integration.conftest import MONGODB_URI, unique
from tests.integration.mesh import App, uvicorn

NOW = time.time()
HOUR = 3600.0


def _at(seconds_ago: float) -> datetime:
    return datetime.fromtimestamp(NOW - seconds_ago, tz=UTC)


# Tenant A's catalog; tenant B has none of these.
ITEMS: dict[str, dict[str, Any]] = {
    **{f"d{n}": {"categories": ["drama"], "published_at": _at(90 * 24 * HOUR)} for n in range(1, 7)},
    **{f"c{n}": {"categories": ["comedy"], "tags": ["light"]} for n in range(1, 4)},
    "n1": {"categories": ["news"], "published_at": _at(HOUR), "attributes": {"lang": "en"}},
    "o1": {"categories": ["news"], "published_at": _at(30 * 24 * HOUR), "attributes": {"lang": "de"}},
    "h1": {"categories": ["drama"], "hidden": True},
    "x1": {"categories": ["drama"], "expires_at": _at(HOUR)},  # expired an hour ago
    "p1": {"categories": ["promo"]},  # recall never returns it; a pin places it
}


@pytest.fixture(scope="module")
async def tenants(database_name: str) -> AsyncIterator[tuple[str, str]]:
    a, b = f"ta{uuid.uuid4().hex[:8]}", f"tb{uuid.uuid4().hex[:8]}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URI)
    try:
        await ItemRepository(client[database_name]).upsert_many(a, list(ITEMS.items()))
    finally:
        await client.close()
    yield a, b


@pytest.fixture(scope="module")
def rerank_app(app_env: dict[str, str], tenants: tuple[str, str]) -> Iterator[App]:
    app = App(unique("rerank"), uvicorn("apps.rerank.main"), env=app_env).start()
    yield app
    app.stop()


def call(app: App, tenant: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    url = f"{app.sidecar}/v1.0/invoke/{app.app_id}/method/rerank/{tenant}"
    wire = {"user_id": "u1", "now": NOW, **body, "candidates": columns(body.get("candidates", []))}
    resp = httpx.post(url, json=wire, headers=app.headers, timeout=30)
    assert resp.status_code == status, resp.text
    result: dict[str, Any] = resp.json()
    if status == 200:  # the items come back as columns too; the tests read them as rows
        result["items"] = rows(result["items"])
    return result


def ranked(*item_ids: str) -> list[dict[str, Any]]:
    """Candidates in the given order with falling scores (1.0, 0.99, ...)."""
    return [{"item_id": i, "score": 1.0 - 0.01 * n, "sources": {"als": 0.5}} for n, i in enumerate(item_ids)]


def ids(result: dict[str, Any]) -> list[str]:
    return [i["item_id"] for i in result["items"]]


def effect(result: dict[str, Any], rule: str) -> dict[str, Any]:
    [found] = [e for e in result["effects"] if e["rule"] == rule]
    return found


DRAMA_FIRST = ranked("d1", "d2", "d3", "d4", "d5", "d6", "c1", "c2", "c3")


def test_without_rules_the_ranked_order_is_cut_to_count(rerank_app: App, tenants: tuple[str, str]) -> None:
    result = call(rerank_app, tenants[0], {"count": 4, "candidates": DRAMA_FIRST})
    assert ids(result) == ["d1", "d2", "d3", "d4"]
    assert result["items"][0] == {"item_id": "d1", "score": 1.0, "sources": {"als": 0.5}}
    assert result["effects"] == []


def test_mmr_reduces_category_repetition(rerank_app: App, tenants: tuple[str, str]) -> None:
    rules = [{"type": "mmr", "lambda": 0.5, "by": "category"}]
    result = call(rerank_app, tenants[0], {"count": 5, "candidates": DRAMA_FIRST, "rules": rules})
    # Without it the top 5 is all drama; with it the best comedy comes right after the best drama.
    assert ids(result) == ["d1", "c1", "d2", "d3", "d4"]
    assert effect(result, "mmr")["moved"] == ["c1", "d2", "d3", "d4"]


def test_mmr_by_embedding_without_an_embedding_model_compares_categories(
    rerank_app: App, tenants: tuple[str, str]
) -> None:
    body: dict[str, Any] = {"count": 5, "candidates": DRAMA_FIRST}
    by_category = call(rerank_app, tenants[0], {**body, "rules": [{"type": "mmr", "lambda": 0.5}]})
    by_embedding = call(rerank_app, tenants[0], {**body, "rules": [{"type": "mmr", "lambda": 0.5, "by": "embedding"}]})
    assert ids(by_embedding) == ids(by_category)


def test_freshness_lifts_a_new_item_over_an_old_one(rerank_app: App, tenants: tuple[str, str]) -> None:
    candidates = [{"item_id": "o1", "score": 0.6}, {"item_id": "n1", "score": 0.5}]
    assert ids(call(rerank_app, tenants[0], {"count": 2, "candidates": candidates})) == ["o1", "n1"]
    rules = [{"type": "freshness", "half_life_hours": 24, "boost": 1.0}]
    result = call(rerank_app, tenants[0], {"count": 2, "candidates": candidates, "rules": rules})
    assert ids(result) == ["n1", "o1"]
    assert result["items"][0]["score"] > 0.9  # 0.5 * (1 + 2^(-1/24))
    assert effect(result, "freshness")["moved"] == ["n1", "o1"]


def test_filter_keeps_the_matching_items(rerank_app: App, tenants: tuple[str, str]) -> None:
    candidates = ranked("o1", "n1", "d1", "c1")
    rules = [{"type": "filter", "include_categories": ["news"], "attribute_equals": {"lang": "en"}}]
    result = call(rerank_app, tenants[0], {"count": 4, "candidates": candidates, "rules": rules})
    assert ids(result) == ["n1"]
    assert sorted(effect(result, "filter")["removed"]) == ["c1", "d1", "o1"]


def test_boost_promotes_a_category_or_tag(rerank_app: App, tenants: tuple[str, str]) -> None:
    rules = [{"type": "boost", "factor": 3.0, "tags": ["light"]}]
    result = call(rerank_app, tenants[0], {"count": 3, "candidates": DRAMA_FIRST, "rules": rules})
    assert ids(result) == ["c1", "c2", "c3"]


def test_pin_places_items_at_their_slots_even_ones_recall_missed(rerank_app: App, tenants: tuple[str, str]) -> None:
    rules = [{"type": "pin", "pins": [{"item_id": "c3", "slot": 0}, {"item_id": "p1", "slot": 2}]}]
    result = call(rerank_app, tenants[0], {"count": 4, "candidates": DRAMA_FIRST, "rules": rules})
    assert ids(result) == ["c3", "d1", "p1", "d2"]
    assert sorted(effect(result, "pin")["pinned"]) == ["c3", "p1"]
    # An item the catalog does not have is never invented.
    rules = [{"type": "pin", "pins": [{"item_id": "nowhere", "slot": 0}]}]
    assert ids(call(rerank_app, tenants[0], {"count": 2, "candidates": DRAMA_FIRST, "rules": rules})) == ["d1", "d2"]


def test_category_cap_limits_each_category_in_the_top(rerank_app: App, tenants: tuple[str, str]) -> None:
    rules = [{"type": "category_cap", "max_per_category": 2}]
    result = call(rerank_app, tenants[0], {"count": 4, "candidates": DRAMA_FIRST, "rules": rules})
    assert ids(result) == ["d1", "d2", "c1", "c2"]
    assert effect(result, "category_cap")["moved"] == ["c1", "c2"]


def test_exclude_seen_drops_what_the_user_consumed(rerank_app: App, tenants: tuple[str, str]) -> None:
    body = {"count": 3, "candidates": DRAMA_FIRST, "rules": [{"type": "exclude_seen"}], "seen": ["d1", "d3"]}
    result = call(rerank_app, tenants[0], body)
    assert ids(result) == ["d2", "d4", "d5"]
    assert effect(result, "exclude_seen")["removed"] == ["d1", "d3"]


def test_rules_run_in_order_and_each_reports_its_effect(rerank_app: App, tenants: tuple[str, str]) -> None:
    rules = [
        {"type": "exclude_seen"},
        {"type": "boost", "factor": 2.0, "categories": ["comedy"]},
        {"type": "category_cap", "max_per_category": 1},
    ]
    body = {"count": 3, "candidates": DRAMA_FIRST, "rules": rules, "seen": ["c1"]}
    result = call(rerank_app, tenants[0], body)
    assert ids(result) == ["c2", "d1", "c3"]
    assert [e["rule"] for e in result["effects"]] == ["exclude_seen", "boost", "category_cap"]


def test_hidden_and_expired_items_are_removed_and_unknown_ones_kept(rerank_app: App, tenants: tuple[str, str]) -> None:
    result = call(rerank_app, tenants[0], {"count": 10, "candidates": ranked("h1", "d1", "x1", "zz-unknown")})
    assert ids(result) == ["d1", "zz-unknown"]
    assert effect(result, "available")["removed"] == ["h1", "x1"]


def test_another_tenants_items_are_unknown_never_its_metadata(rerank_app: App, tenants: tuple[str, str]) -> None:
    """Tenant B reranking tenant A's item ids sees no categories, tags, dates or flags: the items are kept as
    unknown ones (RERANK_UNKNOWN_ITEMS=keep), so A's hidden item is not removed, a filter on A's categories removes
    everything, and a boost on them moves nothing."""
    a, b = tenants
    candidates = ranked("h1", "d1", "c1")
    drama_only = [{"type": "filter", "include_categories": ["drama"]}]
    assert ids(call(rerank_app, a, {"count": 3, "candidates": candidates, "rules": drama_only})) == ["d1"]
    assert ids(call(rerank_app, b, {"count": 3, "candidates": candidates, "rules": drama_only})) == []
    boost = [{"type": "boost", "factor": 5.0, "categories": ["comedy"]}]
    assert ids(call(rerank_app, a, {"count": 3, "candidates": candidates, "rules": boost}))[0] == "c1"
    result = call(rerank_app, b, {"count": 3, "candidates": candidates, "rules": boost})
    assert ids(result) == ["h1", "d1", "c1"]
    assert effect(result, "boost")["moved"] == []


def test_invalid_requests_are_rejected(rerank_app: App, tenants: tuple[str, str]) -> None:
    assert call(rerank_app, "bad tenant!", {"count": 1, "candidates": []}, status=422)["error"]["code"]
    result = call(rerank_app, tenants[0], {"count": 0, "candidates": []}, status=422)
    assert result["error"]["code"] == "invalid_request"
    bad_rule = {"count": 1, "candidates": [], "rules": [{"type": "shuffle"}]}
    assert call(rerank_app, tenants[0], bad_rule, status=422)["error"]["code"] == "invalid_request"
