"""The ranking stage through real sidecars: the gRPC ranking app invoked over its sidecar's HTTP API, serving a
tenant's trained rankers, falling back to `weighted`, and swapping in newly activated versions without a restart."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pymongo import AsyncMongoClient

from lemo.datasets import movielens
from lemo.registry import ModelVersion
from tests.integration.columns import columns
from tests.integration.conftest import MONGODB_URI, unique
from tests.integration.mesh import App, python_module
from tests.integration.trained import load_sample, train_in_process
from workflows.training_activities import activation_event

logger = logging.getLogger(__name__)

SAMPLE_USERS = 40  # load_sample's users: the models never saw users past them
HELD_OUT_USERS = [str(u) for u in range(41, 49)]
CANDIDATES = 500


@dataclass
class Trained:
    tenant: str
    artifacts: Path
    versions: dict[str, ModelVersion]
    database: str


@pytest.fixture(scope="module")
async def trained(tmp_path_factory: pytest.TempPathFactory, database_name: str) -> AsyncIterator[Trained]:
    tenant = f"t{unique('rank').split('-')[1]}"
    artifacts = tmp_path_factory.mktemp("ranking-artifacts")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URI)
    try:
        await load_sample(client[database_name], tenant, users=SAMPLE_USERS)
        versions = await train_in_process(MONGODB_URI, database_name, tenant, artifacts)
    finally:
        await client.close()
    yield Trained(tenant, artifacts, versions, database_name)


def _ranking_app(app_env: dict[str, str], trained: Trained, refresh_s: float) -> App:
    app = App(
        unique("ranking"),
        python_module("apps.ranking.main"),
        app_protocol="grpc",
        env={
            **app_env,
            "LEMO_ARTIFACT_URI": str(trained.artifacts),
            # The first request for a ranker waits for it to load, so the tests need not poll for it.
            "RANKING_FIRST_LOAD_WAIT_S": "120",
            "RANKING_REGISTRY_REFRESH_S": str(refresh_s),
        },
    )
    app.env["RANKING_APP_PORT"] = str(app.app_port)
    return app.start()


@pytest.fixture(scope="module")
def ranking(app_env: dict[str, str], trained: Trained) -> Iterator[App]:
    """Re-reads the registry only hourly: a version change it shows came from a models event."""
    app = _ranking_app(app_env, trained, refresh_s=3600)
    yield app
    app.stop()


@pytest.fixture(scope="module")
def healing(app_env: dict[str, str], trained: Trained) -> Iterator[App]:
    """Re-reads the registry every second: it picks up an activation whose event it never got."""
    app = _ranking_app(app_env, trained, refresh_s=1)
    yield app
    app.stop()


def rank(app: App, body: dict[str, Any]) -> dict[str, Any]:
    resp = httpx.post(
        f"{app.sidecar}/v1.0/invoke/{app.app_id}/method/rank", json=body, headers=app.headers, timeout=150
    )
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


def request(tenant: str, ranker: str, candidates: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = {"tenant_id": tenant, "user": {"user_id": "u1"}, "ranker": ranker, **extra}
    return {**body, "candidates": columns(candidates)}


def recall_candidates(n: int) -> list[dict[str, Any]]:
    return [{"item_id": f"i{k}", "score": 1.0 / (k + 1), "sources": {"item_cf": float(k % 7)}} for k in range(n)]


@dataclass
class HeldOut:
    user: dict[str, Any]
    candidates: list[str]
    liked: set[str]


def held_out_cases() -> list[HeldOut]:
    """Users the models never saw, each with half of the films they rated as a realtime history; the films they
    liked (4+) among the other half go into 500 candidates with unrated films of the catalog."""
    ratings = list(movielens.ratings())
    catalog = sorted({r.item_id for r in ratings if int(r.user_id) <= SAMPLE_USERS})
    attributes = {u["user_id"]: u["attributes"] for u in movielens.users()}
    rng = random.Random(7)
    cases = []
    for user_id in HELD_OUT_USERS:
        mine = sorted((r for r in ratings if r.user_id == user_id), key=lambda r: r.timestamp)
        rated = {r.item_id for r in mine}
        history, rest = mine[: len(mine) // 2], mine[len(mine) // 2 :]
        liked = {r.item_id for r in rest if r.rating >= 4 and r.item_id in catalog}
        others = rng.sample([i for i in catalog if i not in rated], CANDIDATES - len(liked))
        candidates = sorted(liked) + others
        rng.shuffle(candidates)
        user = {
            "user_id": user_id,
            "recent_items": [r.item_id for r in reversed(history)],
            "attributes": attributes[user_id],
        }
        cases.append(HeldOut(user, candidates, liked))
    return [c for c in cases if len(c.liked) >= 3]


def auc(scores: list[float], candidates: list[str], liked: set[str]) -> float:
    """The chance that a liked film outscores an unrated one."""
    values = np.asarray(scores)
    positive = np.array([c in liked for c in candidates])
    pos, neg = values[positive], values[~positive]
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


@pytest.mark.parametrize("kind", ["fusion", "deepfm"])
def test_learned_ranker_scores_500_candidates_and_puts_held_out_likes_first(
    ranking: App, trained: Trained, kind: str
) -> None:
    cases = held_out_cases()
    assert len(cases) >= 4
    aucs, latencies = [], []
    for case in cases:
        body = {
            "tenant_id": trained.tenant,
            "user": case.user,
            "ranker": kind,
            "candidates": columns([{"item_id": i, "score": 0.0} for i in case.candidates]),
        }
        result = rank(ranking, body)
        assert (result["ranker"], result["fallback"]) == (kind, None), result
        assert result["version"] == trained.versions[kind].version
        assert len(result["scores"]) == CANDIDATES
        aucs.append(auc(result["scores"], case.candidates, case.liked))
        latencies.append(result["ms"])
    logger.warning("%s: AUC %s; ms per 500 candidates %s", kind, np.round(aucs, 3).tolist(), latencies)
    print(f"\n{kind}: AUC {np.round(aucs, 3).tolist()} ms per {CANDIDATES} candidates {latencies}")
    assert float(np.mean(aucs)) > 0.6, aucs  # random order: 0.5


def test_a_ranker_without_an_active_version_falls_back_to_weighted(ranking: App, trained: Trained) -> None:
    candidates = recall_candidates(20)
    result = rank(ranking, request(trained.tenant, "wide_deep", candidates))
    assert result["ranker"] == "weighted"
    assert result["fallback"] == "wide_deep: no active version"
    assert result["version"] is None
    assert result["scores"] == [c["score"] for c in candidates]  # recall's merged score, by default


def test_an_unknown_tenant_gets_the_weighted_fallback_not_an_error(ranking: App) -> None:
    result = rank(ranking, request("tnobodyhere", "fusion", recall_candidates(5)))
    assert (result["ranker"], result["fallback"]) == ("weighted", "fusion: no active version")
    assert len(result["scores"]) == 5


def test_weighted_blends_the_features_the_context_names(ranking: App, trained: Trained) -> None:
    candidates = recall_candidates(10)
    weights = {"recall": 2.0, "item_cf": 0.5}
    result = rank(ranking, request(trained.tenant, "weighted", candidates, context={"weights": weights}))
    assert (result["ranker"], result["fallback"]) == ("weighted", None)
    expected = [2.0 * c["score"] + 0.5 * c["sources"]["item_cf"] for c in candidates]
    assert result["scores"] == pytest.approx(expected)


def test_random_is_reproducible_per_seed_and_differs_between_seeds(ranking: App, trained: Trained) -> None:
    candidates = recall_candidates(50)
    seeded = [rank(ranking, request(trained.tenant, "random", candidates, context={"seed": s})) for s in (1, 1, 2)]
    assert all((r["ranker"], r["fallback"]) == ("random", None) for r in seeded)
    assert seeded[0]["scores"] == seeded[1]["scores"]
    assert np.argsort(seeded[0]["scores"]).tolist() != np.argsort(seeded[2]["scores"]).tolist()


def test_an_unknown_ranker_falls_back_and_a_bad_body_is_an_error(ranking: App, trained: Trained) -> None:
    result = rank(ranking, request(trained.tenant, "xgboost", recall_candidates(3)))
    assert (result["ranker"], result["fallback"]) == ("weighted", "unknown ranker 'xgboost'")
    error = rank(ranking, {"user": {"user_id": "u1"}, "ranker": "fusion", "candidates": columns([])})  # no tenant
    assert error["error"]["code"] == "invalid_request"
    assert any(d["loc"] == ["tenant_id"] for d in error["error"]["details"])


def _version_until(app: App, tenant: str, kind: str, want: int, timeout_s: float) -> int | None:
    deadline = time.monotonic() + timeout_s
    version = None
    while time.monotonic() < deadline:
        version = rank(app, request(tenant, kind, recall_candidates(3)))["version"]
        if version == want:
            break
        time.sleep(0.5)
    return version


async def test_a_newly_activated_version_serves_without_a_restart(
    ranking: App, healing: App, trained: Trained, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tenant, first = trained.tenant, trained.versions
    for app in (ranking, healing):  # both serve the first versions before the second run
        for kind in ("fusion", "deepfm"):
            assert rank(app, request(tenant, kind, recall_candidates(3)))["version"] == first[kind].version

    second = await train_in_process(MONGODB_URI, trained.database, tenant, trained.artifacts)
    assert second["fusion"].version > first["fusion"].version

    # No event yet: the app that re-reads the registry every second heals on its own, the other keeps serving v1.
    assert _version_until(healing, tenant, "fusion", second["fusion"].version, 60) == second["fusion"].version
    assert rank(ranking, request(tenant, "fusion", recall_candidates(3)))["version"] == first["fusion"].version

    def publish(version: ModelVersion) -> None:
        url = f"{ranking.sidecar}/v1.0/publish/pubsub/models"
        resp = httpx.post(url, json=activation_event(tenant, version), headers=ranking.headers, timeout=10)
        assert resp.status_code == 204, resp.text

    publish(second["fusion"])
    assert _version_until(ranking, tenant, "fusion", second["fusion"].version, 60) == second["fusion"].version
    # An input channel's activation reloads the rankers that fuse it, which picks up deepfm's new version too.
    assert rank(ranking, request(tenant, "deepfm", recall_candidates(3)))["version"] == first["deepfm"].version
    publish(second["item_cf"])
    assert _version_until(ranking, tenant, "deepfm", second["deepfm"].version, 60) == second["deepfm"].version
