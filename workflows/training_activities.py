"""Activities of the train workflow. Each takes one pydantic model and returns a JSON-able dict.

Steps pass file locations, not data: the export lands in the run directory and every later step reads it
(once per process). CPU-bound steps are plain functions, so the workflow worker runs them on its thread pool;
store steps are coroutines that open their clients on the worker's own event loop.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import torch
from dapr.aio.clients import DaprClient
from dapr.ext.workflow import WorkflowActivityContext
from pydantic import BaseModel, Field
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from lemo import models
from lemo.artifacts import ArtifactStore
from lemo.evaluation.protocol import EVALUATION_USERS, evaluate_trained
from lemo.models.linear import coverage_note
from lemo.models.loaded_models import release_memory, shared_recall_model
from lemo.models.rankers import LearnedRanker
from lemo.models.recall_kinds import train_threads
from lemo.registry import (
    ActivationPolicy,
    ModelVersion,
    decide_activation,
    primary_metric,
    ranker_guard,
)
from lemo.run_data import (
    load_run_data,
    write_item_vectors,
)
from lemo.stores.mongo import ModelRegistry

logger = logging.getLogger(__name__)

BUILD_FEATURES = "build_features"
TRAIN = "train_model"
EVALUATE = "evaluate_model"
REGISTER = "register_model"
INDEX_VECTORS = "index_item_vectors"
ACTIVATE = "activate_models"
PUBLISH = "publish_activations"

# Model kinds whose artifacts carry item vectors for the ANN index: the two-tower item tower and the text model.
VECTOR_KINDS = ("two_tower", "content")


class ActivityDeps(BaseModel):
    mongodb_uri: str
    mongodb_database: str
    artifact_uri: str
    # "" keeps each run's item vectors in a Milvus Lite file beside its artifacts (Milvus Lite serves one
    # process, so the serving side opens the active run's file); an http(s) URI upserts into a Milvus server.
    vector_uri: str = ""
    pubsub_name: str
    models_topic: str
    retention_days: float = 365.0
    device: str | None = None


_deps: ActivityDeps | None = None


def configure(settings: ActivityDeps) -> None:
    """Called once by the trainer's bootstrap before the workflow runtime starts. Also sets torch's intra-op
    threads for the whole process to the training threads (one by default): activities run on threads of one
    process, torch's setting is process-wide, and evaluations and the text embedding ahead of training ran with
    the default (a thread per core) whenever no training had just set it, so their OpenMP pools spun against
    the training threads on the same two cores."""
    global _deps
    _deps = settings
    torch.set_num_threads(train_threads())


def deps() -> ActivityDeps:
    if _deps is None:
        raise RuntimeError("workflows.training_activities.configure() was not called")
    return _deps


def artifacts() -> ArtifactStore:
    return ArtifactStore(deps().artifact_uri)


@asynccontextmanager
async def mongo_session() -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database handle for one activity call, on the calling event loop."""
    settings = deps()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        yield client[settings.mongodb_database]
    finally:
        await client.close()


class RunRef(BaseModel):
    tenant_id: str
    run_id: str
    holdout_ratio: float = 0.1
    seed: int = 42


def build_features(_: WorkflowActivityContext, request: RunRef) -> dict[str, Any]:
    """Builds the run's training data and its train/holdout split (rankers sample their negatives from it)."""
    started = time.perf_counter()
    run = load_run_data(artifacts().run_dir(request.tenant_id, request.run_id), request.holdout_ratio, request.seed)
    return {
        "users": run.full.n_users,
        "items": run.full.n_items,
        "train_pairs": len(run.train.rows),
        "holdout_pairs": len(run.holdout.rows),
        "seconds": time.perf_counter() - started,
    }


class TrainInput(RunRef):
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    # Artifacts of this run's recall models, for rankers that use their scores as features.
    recall_artifacts: dict[str, str] = Field(default_factory=dict)


def _device() -> str:
    configured = deps().device
    return configured or ("cuda" if torch.cuda.is_available() else "cpu")


def _recall_models(store: ArtifactStore, artifacts: dict[str, str]) -> dict[str, models.RecallModel]:
    return {kind: shared_recall_model(kind, store.path(uri)) for kind, uri in artifacts.items()}


def train_model(_: WorkflowActivityContext, request: TrainInput) -> dict[str, Any]:
    store = artifacts()
    run = load_run_data(store.run_dir(request.tenant_id, request.run_id), request.holdout_ratio, request.seed)
    started = time.perf_counter()
    recall = _recall_models(store, request.recall_artifacts) if request.kind in models.RANKER_KINDS else None
    model = models.train_model(
        request.kind,
        run.train,
        request.params or None,
        seed=request.seed,
        device=_device(),
        recall=recall,
        text_cache=store.text_vectors_dir(request.tenant_id),
    )
    final = store.model_dir(request.tenant_id, request.kind, request.run_id)
    with store.writing(final) as tmp:
        model.save(tmp)
    seconds = time.perf_counter() - started
    logger.info("trained %s in %.1f s", request.kind, seconds, extra={"tenant_id": request.tenant_id})
    params = model.params
    del model, recall
    release_memory()
    return {"kind": request.kind, "artifact_uri": store.uri(final), "params": params, "seconds": seconds}


class EvaluateInput(RunRef):
    kind: str
    artifact_uri: str
    recall_artifacts: dict[str, str] = Field(default_factory=dict)
    evaluation_users: int = EVALUATION_USERS


def evaluate_model(_: WorkflowActivityContext, request: EvaluateInput) -> dict[str, Any]:
    store = artifacts()
    run = load_run_data(store.run_dir(request.tenant_id, request.run_id), request.holdout_ratio, request.seed)
    started = time.perf_counter()
    recall = _recall_models(store, request.recall_artifacts) if request.kind in models.RANKER_KINDS else {}
    model = (
        models.load_model(request.kind, store.path(request.artifact_uri), recall=recall)
        if request.kind in models.RANKER_KINDS
        else shared_recall_model(request.kind, store.path(request.artifact_uri))
    )
    # A ranker's metrics include its whole pipeline on the holdout the channels are scored on: the ranker guard
    # compares it with the best channel alone (the holdout is this run's validation split; no test exists).
    metrics = evaluate_trained(
        cast(models.RecallModel | LearnedRanker, model),
        recall,
        run.train,
        run.holdout,
        seed=request.seed,
        max_users=request.evaluation_users,
    )
    seconds = time.perf_counter() - started
    del model, recall
    release_memory()
    return {"kind": request.kind, "metrics": metrics, "seconds": seconds}


class RegisterInput(RunRef):
    kind: str
    artifact_uri: str
    params: dict[str, Any]
    metrics: dict[str, float]
    train_seconds: float
    inputs: dict[str, str] = Field(default_factory=dict)
    # Rankers: every channel's holdout metrics and artifact, for the ranker guard (the channel that serves in a
    # ranker's place may be one the ranker does not fuse, such as popular).
    channel_metrics: dict[str, dict[str, float]] = Field(default_factory=dict)
    channel_artifacts: dict[str, str] = Field(default_factory=dict)


async def register_model(_: WorkflowActivityContext, request: RegisterInput) -> dict[str, Any]:
    """Registers this run's version of one model; a retry returns the version registered the first time. A ranker
    whose pipeline did not beat its best channel alone is registered to serve that channel's order instead."""
    serves, note, inputs = None, coverage_note(request.params), dict(request.inputs)
    if request.kind in models.RANKER_KINDS:
        guard = ranker_guard(request.metrics, request.channel_metrics)
        serves, note = (None if guard.serve_ranker else guard.channel), guard.reason
        if serves is not None and serves in request.channel_artifacts:  # serving loads it from the inputs
            inputs[serves] = request.channel_artifacts[serves]
    async with mongo_session() as db:
        registry = ModelRegistry(db)
        await registry.ensure_indexes()
        version = await registry.register(
            ModelVersion(
                tenant_id=request.tenant_id,
                kind=request.kind,
                version=1,
                run_id=request.run_id,
                metrics=request.metrics,
                params=request.params,
                artifact_uri=request.artifact_uri,
                train_seconds=request.train_seconds,
                inputs=inputs,
                serves=serves,
                note=note,
                created_at=time.time(),
            )
        )
    return version.model_dump(mode="json")


class IndexInput(RunRef):
    artifacts: dict[str, str]  # kind -> artifact URI, for the kinds whose models carry item vectors


def vector_location(artifacts: ArtifactStore, settings: ActivityDeps, tenant_id: str, run_id: str) -> str:
    if settings.vector_uri:
        return settings.vector_uri
    return str(artifacts.vectors_file(tenant_id, run_id))


def vector_collection(kind: str, run_id: str) -> str:
    """One collection per model version: a new run never overwrites vectors that are being served."""
    return f"items_{kind}_{run_id}".replace("-", "_")


def index_item_vectors(_: WorkflowActivityContext, request: IndexInput) -> dict[str, Any]:
    """Upserts the item vectors of this run's embedding models (two-tower, text) into Milvus."""
    settings, store = deps(), artifacts()
    started = time.perf_counter()
    location = vector_location(store, settings, request.tenant_id, request.run_id)
    if not settings.vector_uri:
        Path(location).parent.mkdir(parents=True, exist_ok=True)
    indexed: dict[str, dict[str, Any]] = {}
    for kind, uri in sorted(request.artifacts.items()):
        model = models.load_model(kind, store.path(uri))
        item_ids, vectors = model.item_vectors()  # type: ignore[attr-defined]
        if not item_ids:
            continue
        write_item_vectors(location, vector_collection(kind, request.run_id), request.tenant_id, item_ids, vectors)
        indexed[kind] = {"uri": location, "collection": vector_collection(kind, request.run_id), "count": len(item_ids)}
    return {"indexed": indexed, "seconds": time.perf_counter() - started}


class ActivateInput(RunRef):
    policy: ActivationPolicy
    min_gain: float = 0.0
    vectors: dict[str, dict[str, Any]] = Field(default_factory=dict)


async def activate_models(_: WorkflowActivityContext, request: ActivateInput) -> dict[str, Any]:
    """Records where each version's vectors live, then activates the versions that beat the active ones."""
    decisions: dict[str, dict[str, Any]] = {}
    async with mongo_session() as db:
        registry = ModelRegistry(db)
        for version in await registry.for_run(request.tenant_id, request.run_id):
            if version.kind in request.vectors:
                location = request.vectors[version.kind]
                await registry.set_vectors(
                    request.tenant_id, version.kind, version.version, f"{location['uri']}#{location['collection']}"
                )
            active = await registry.active(request.tenant_id, version.kind)
            if active is not None and active.run_id == request.run_id:  # a retry after activating
                decisions[version.kind] = {"version": version.version, "activated": True, "reason": "already active"}
                continue
            metric = primary_metric(version.kind, models.RANKER_KINDS)
            activate, reason = decide_activation(version, active, request.policy, metric, request.min_gain)
            if activate:
                await registry.activate(request.tenant_id, version.kind, version.version)
            decisions[version.kind] = {"version": version.version, "activated": activate, "reason": reason}
    return {"decisions": decisions}


class PublishInput(BaseModel):
    tenant_id: str
    run_id: str
    activated: dict[str, int]  # kind -> version


def activation_event(tenant_id: str, version: ModelVersion | dict[str, Any]) -> dict[str, Any]:
    v = version if isinstance(version, ModelVersion) else ModelVersion.model_validate(version)
    return {
        "type": "model-activated",
        "tenant_id": tenant_id,
        "kind": v.kind,
        "version": v.version,
        "run_id": v.run_id,
        "artifact_uri": v.artifact_uri,
        "vectors_uri": v.vectors_uri,
        "metrics": v.metrics,
    }


async def publish_activations(_: WorkflowActivityContext, request: PublishInput) -> dict[str, Any]:
    """Tells the serving apps which versions to load (a redelivered event is harmless: loading is idempotent)."""
    settings = deps()
    async with mongo_session() as db:
        registry = ModelRegistry(db)
        versions = [await registry.get(request.tenant_id, k, v) for k, v in sorted(request.activated.items())]
    async with DaprClient() as dapr:
        for version in versions:
            if version is not None:
                await dapr.publish_event(
                    settings.pubsub_name,
                    settings.models_topic,
                    json.dumps(activation_event(request.tenant_id, version)),
                    data_content_type="application/json",
                )
    return {"published": sum(v is not None for v in versions)}
