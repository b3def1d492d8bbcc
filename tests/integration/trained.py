"""A tenant with MovieLens sample data and trained, active models, made in-process by the train workflow's own
activity functions (no trainer app needed): for the tests of the apps that serve models."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apps.shared.settings import MODELS_TOPIC, PUBSUB
from lemo.datasets import movielens
from lemo.events import Event
from lemo.models import RANKER_KINDS, fused_channels
from lemo.registry import ActivationPolicy, ModelVersion
from lemo.stores.mongo import EventArchive, ItemRepository, ModelRegistry, UserRepository
from workflows import training_activities as act
from workflows import training_export

# The kinds the serving tests need: every recall channel with a model, and the rankers.
SERVING_KINDS = ("popular", "item_cf", "user_cf", "als", "ease", "two_tower", "content", "fusion", "deepfm")


async def load_sample(db: AsyncDatabase[dict[str, Any]], tenant: str, users: int = 40) -> None:
    """MovieLens users 1..`users` (40: about 4,000 ratings over about 1,200 films), their films and profiles."""
    ratings = [r for r in movielens.ratings() if int(r.user_id) <= users]
    archive = EventArchive(db, retention_days=36500)
    await archive.ensure_indexes()
    events = [Event(tenant_id=tenant, **movielens.rating_event(r)) for r in ratings]
    for start in range(0, len(events), 2000):
        await archive.append_many(events[start : start + 2000])
    rated = {r.item_id for r in ratings}
    items = [(i["item_id"], {k: v for k, v in i.items() if k != "item_id"}) for i in movielens.items()]
    await ItemRepository(db).upsert_many(tenant, [i for i in items if i[0] in rated])
    profiles = UserRepository(db)
    for user in movielens.users():
        if int(user["user_id"]) <= users:
            await profiles.upsert(tenant, user["user_id"], user["attributes"])


async def train_in_process(
    mongodb_uri: str,
    database: str,
    tenant: str,
    artifacts: Path,
    kinds: tuple[str, ...] = SERVING_KINDS,
) -> dict[str, ModelVersion]:
    """Runs the train workflow's steps in this process and activates every version; returns them by kind."""
    act.configure(
        act.ActivityDeps(
            mongodb_uri=mongodb_uri,
            mongodb_database=database,
            artifact_uri=str(artifacts),
            pubsub_name=PUBSUB,
            models_topic=MODELS_TOPIC,
            retention_days=36500,
        )
    )
    run: dict[str, Any] = {"tenant_id": tenant, "run_id": f"it-{uuid.uuid4().hex[:12]}"}
    exported = await training_export.export_interactions(None, training_export.ExportInput(**run))  # type: ignore[arg-type]
    act.build_features(None, act.RunRef(**run))  # type: ignore[arg-type]
    trained: dict[str, dict[str, Any]] = {}
    for kind in (k for k in kinds if k not in RANKER_KINDS):
        trained[kind] = act.train_model(None, act.TrainInput(**run, kind=kind))  # type: ignore[arg-type]
    fused = fused_channels(int(exported["interactions"]))  # as the train workflow decides it
    recall = {k: r["artifact_uri"] for k, r in trained.items() if k in fused}
    for kind in (k for k in kinds if k in RANKER_KINDS):
        trained[kind] = act.train_model(None, act.TrainInput(**run, kind=kind, recall_artifacts=recall))  # type: ignore[arg-type]
    for kind, result in trained.items():
        evaluated = act.evaluate_model(
            None,  # type: ignore[arg-type]
            act.EvaluateInput(
                **run,
                kind=kind,
                artifact_uri=result["artifact_uri"],
                recall_artifacts=recall if kind in RANKER_KINDS else {},
            ),
        )
        await act.register_model(
            None,  # type: ignore[arg-type]
            act.RegisterInput(
                **run,
                kind=kind,
                artifact_uri=result["artifact_uri"],
                params=result["params"],
                metrics=evaluated["metrics"],
                train_seconds=result["seconds"],
                inputs=recall if kind in RANKER_KINDS else {},
            ),
        )
    with_vectors = {k: trained[k]["artifact_uri"] for k in act.VECTOR_KINDS if k in trained}
    indexed = act.index_item_vectors(None, act.IndexInput(**run, artifacts=with_vectors))  # type: ignore[arg-type]
    await act.activate_models(
        None,  # type: ignore[arg-type]
        act.ActivateInput(**run, policy=ActivationPolicy.ALWAYS, vectors=indexed["indexed"]),
    )
    async with act.mongo_session() as db:
        registry = ModelRegistry(db)
        return {v.kind: v for v in await registry.for_run(tenant, run["run_id"])}
