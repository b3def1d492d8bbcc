"""The train workflow, one run per tenant:

export interactions (beside it, embed the catalog's item texts for the content model) -> build features -> train
the recall models (fanned out) -> train the rankers (fanned out, fed by this run's recall models) -> evaluate
each on the holdout, and beside that index item vectors into Milvus -> register each as a version -> activate the
versions that beat the active ones -> publish model-activated events.

The run id is the workflow instance id. The body does no I/O and reads no clock, so replays after a crash are
deterministic; it reports per-step progress as its custom status, which `GET .../runs/{id}` and `lemo train`
show.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, RetryPolicy, when_any
from pydantic import BaseModel, Field, field_validator

from lemo.evaluation.protocol import EVALUATION_USERS
from lemo.models import MODEL_KINDS, RANKER_KINDS, RECALL_KINDS, fused_channels
from lemo.registry import ActivationPolicy
from workflows import training_activities as act
from workflows import training_export as export

TRAIN_WORKFLOW = "train"
# Workflow patches (`ctx.is_patched`): changes to the order of steps, recorded in each run's history so that a run
# started before the change replays the way it ran.
EMBED_TEXTS_AHEAD = "embed-texts-ahead"

# Store steps can meet a restarting database; training steps are deterministic, so one retry is enough.
_RETRY = RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3, backoff_coefficient=2.0)


class TrainRequest(BaseModel):
    tenant_id: str
    kinds: list[str] = Field(default_factory=lambda: list(MODEL_KINDS))
    policy: ActivationPolicy = ActivationPolicy.BETTER
    min_gain: float = Field(default=0.0, ge=0.0, le=1.0)
    # The share of each user's interactions held out to evaluate the run's models (which train on the rest).
    holdout_ratio: float = Field(default=0.1, ge=0.05, le=0.5)
    seed: int = 42
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Train on the newest N interactions only (a quick run on a sample).
    max_interactions: int | None = Field(default=None, ge=1)
    # Holdout users every model is scored on (a seeded sample, the same for all; 0: every holdout user). NDCG@10's
    # 95% interval over 5,000 users is about +-0.008 (docs/training.md).
    evaluation_users: int = Field(default=EVALUATION_USERS, ge=0)

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        unknown = sorted(set(kinds) - set(MODEL_KINDS))
        if unknown:
            raise ValueError(f"unknown model kinds {unknown}; known: {list(MODEL_KINDS)}")
        if not kinds:
            raise ValueError("at least one model kind")
        return list(dict.fromkeys(kinds))


class _Progress:
    """The custom status: which step runs, and each model's stage, as compact JSON."""

    def __init__(self, ctx: DaprWorkflowContext, kinds: list[str]) -> None:
        self._ctx = ctx
        # export, features, (train, evaluate, register) per model, index, activate, publish
        self.total = 5 + 3 * len(kinds)
        self.done = 0
        self.step = "export"
        self.models: dict[str, str] = dict.fromkeys(kinds, "pending")

    def advance(self, step: str | None = None, kind: str | None = None, stage: str | None = None) -> None:
        """One more unit of work is done; `step` names the one that starts now."""
        self.done += 1
        if kind is not None and stage is not None:
            self.models[kind] = stage
        self.at(step or self.step)

    def at(self, step: str) -> None:
        self.step = step
        self._ctx.set_custom_status(
            json.dumps({"step": self.step, "done": self.done, "total": self.total, "models": self.models})
        )


def _fan_out(
    ctx: DaprWorkflowContext, progress: _Progress, name: str, inputs: dict[str, BaseModel], stage: str
) -> Generator[Any, Any, dict[str, dict[str, Any]]]:
    """Runs one activity per model kind concurrently, reporting each as it finishes."""
    pending: dict[str, Any] = {
        kind: ctx.call_activity(name, input=payload.model_dump(), retry_policy=_RETRY)
        for kind, payload in inputs.items()
    }
    results: dict[str, dict[str, Any]] = {}
    while pending:
        finished = yield when_any(list(pending.values()))
        kind = next(k for k, task in pending.items() if task is finished)
        results[kind] = finished.get_result()
        del pending[kind]
        progress.advance(kind=kind, stage=stage)
    return results


def _train_all(
    ctx: DaprWorkflowContext,
    progress: _Progress,
    run: dict[str, str],
    split: dict[str, Any],
    request: TrainRequest,
    recall_kinds: list[str],
    ranker_kinds: list[str],
    fused: list[str],
    gates: dict[str, Any],
) -> Generator[Any, Any, dict[str, dict[str, Any]]]:
    """Trains every recall model concurrently, and the rankers once the fused channels among them are done. A
    model with a gate (a task of the run: the content model's text embedding) starts once that task is done."""

    def start(kind: str, recall_artifacts: dict[str, str] | None = None) -> Any:
        payload = act.TrainInput(
            **run, **split, kind=kind, params=request.params.get(kind, {}), recall_artifacts=recall_artifacts or {}
        )
        return ctx.call_activity(act.TRAIN, input=payload.model_dump(), retry_policy=_RETRY)

    waiting = {kind: task for kind, task in gates.items() if kind in recall_kinds}
    pending: dict[str, Any] = {kind: start(kind) for kind in recall_kinds if kind not in waiting}
    results: dict[str, dict[str, Any]] = {}
    rankers_started = not ranker_kinds
    while pending or waiting or not rankers_started:
        if not rankers_started and all(k in results for k in fused):
            artifacts = {k: results[k]["artifact_uri"] for k in fused}
            pending |= {kind: start(kind, artifacts) for kind in ranker_kinds}
            rankers_started = True
            continue
        finished = yield when_any([*pending.values(), *waiting.values()])
        opened = next((k for k, task in waiting.items() if task is finished), None)
        if opened is not None:  # its gate is done (failed or not: a gate only saves the model work), start it
            del waiting[opened]
            pending[opened] = start(opened)
            continue
        kind = next(k for k, task in pending.items() if task is finished)
        results[kind] = finished.get_result()
        del pending[kind]
        progress.advance(kind=kind, stage="trained")
    return results


def train_workflow(ctx: DaprWorkflowContext, request: TrainRequest) -> Generator[Any, Any, dict[str, Any]]:
    run = {"tenant_id": request.tenant_id, "run_id": ctx.instance_id}
    split = {"holdout_ratio": request.holdout_ratio, "seed": request.seed}
    progress = _Progress(ctx, request.kinds)

    # The content model's text embedding needs only the catalog: it runs beside the export, which mostly waits on
    # the archive's store, and content training then reads the vectors it cached.
    gates: dict[str, Any] = {}
    # A patch marker: a run an older trainer started (without this step) replays without it after an upgrade.
    if "content" in request.kinds and ctx.is_patched(EMBED_TEXTS_AHEAD):
        embedding = export.EmbedTextsInput(**run, params=request.params.get("content", {}))
        gates["content"] = ctx.call_activity(export.EMBED_TEXTS, input=embedding.model_dump(), retry_policy=_RETRY)
    exported = yield ctx.call_activity(
        export.EXPORT,
        input=export.ExportInput(**run, **split, max_interactions=request.max_interactions).model_dump(),
        retry_policy=_RETRY,
    )
    progress.advance("features")
    if exported["interactions"] == 0:
        return {**run, "status": "no_data", "exported": exported}
    features = yield ctx.call_activity(
        act.BUILD_FEATURES, input=act.RunRef(**run, **split).model_dump(), retry_policy=_RETRY
    )
    progress.advance("train")

    recall_kinds = [k for k in request.kinds if k in RECALL_KINDS]
    ranker_kinds = [k for k in request.kinds if k in RANKER_KINDS]
    # Rankers learn from the channels whose fusion validated best (lemo.models.fused_channels), not from all, and
    # start as soon as those are trained: the slowest recall models (text embeddings of a large catalog; the two
    # towers past SMALL_TENANT_INTERACTIONS) are not among them, so the rankers run beside them instead of after.
    fused_set = fused_channels(int(exported["interactions"]))
    fused = [k for k in recall_kinds if k in fused_set]
    trained = yield from _train_all(ctx, progress, run, split, request, recall_kinds, ranker_kinds, fused, gates)
    recall_artifacts = {k: r["artifact_uri"] for k, r in trained.items() if k in fused_set}

    # Indexing reads only the trained vectors, so it runs beside the evaluations (43 s at 100,000 items).
    with_vectors = {k: trained[k]["artifact_uri"] for k in act.VECTOR_KINDS if k in trained}
    indexing: Any = ctx.call_activity(
        act.INDEX_VECTORS,
        input=act.IndexInput(**run, **split, artifacts=with_vectors).model_dump(),
        retry_policy=_RETRY,
    )

    progress.at("evaluate")
    evaluated = yield from _fan_out(
        ctx,
        progress,
        act.EVALUATE,
        {
            k: act.EvaluateInput(
                **run,
                **split,
                kind=k,
                artifact_uri=r["artifact_uri"],
                recall_artifacts=recall_artifacts if k in RANKER_KINDS else {},
                evaluation_users=request.evaluation_users,
            )
            for k, r in trained.items()
        },
        "evaluated",
    )

    progress.at("register")
    registered = yield from _fan_out(
        ctx,
        progress,
        act.REGISTER,
        {
            k: act.RegisterInput(
                **run,
                **split,
                kind=k,
                artifact_uri=r["artifact_uri"],
                params=r["params"],
                metrics=evaluated[k]["metrics"],
                train_seconds=r["seconds"],
                inputs=recall_artifacts if k in RANKER_KINDS else {},
                # the ranker guard compares the ranker's pipeline with every channel alone, fused or not
                channel_metrics={c: evaluated[c]["metrics"] for c in recall_kinds} if k in RANKER_KINDS else {},
                channel_artifacts={c: trained[c]["artifact_uri"] for c in recall_kinds} if k in RANKER_KINDS else {},
            )
            for k, r in trained.items()
        },
        "registered",
    )

    progress.at("index")
    indexed = yield indexing

    progress.advance("activate")
    activation = yield ctx.call_activity(
        act.ACTIVATE,
        input=act.ActivateInput(
            **run, **split, policy=request.policy, min_gain=request.min_gain, vectors=indexed["indexed"]
        ).model_dump(),
        retry_policy=_RETRY,
    )
    activated = {k: d["version"] for k, d in activation["decisions"].items() if d["activated"]}

    progress.advance("publish")
    if activated:
        yield ctx.call_activity(
            act.PUBLISH, input=act.PublishInput(**run, activated=activated).model_dump(), retry_policy=_RETRY
        )
    progress.advance("done")
    return {
        **run,
        "status": "completed",
        "exported": exported,
        "features": features,
        "models": {
            k: {
                "version": registered[k]["version"],
                "metrics": evaluated[k]["metrics"],
                "train_seconds": trained[k]["seconds"],
                "activated": activation["decisions"][k]["activated"],
                "reason": activation["decisions"][k]["reason"],
                # a ranker that lost to a channel alone on the holdout serves that channel's order instead
                "serves": registered[k].get("serves"),
            }
            for k in trained
        },
        "indexed": indexed["indexed"],
        # Seconds inside each step (activities of one fan-out overlap, so these add up to more than the wall time).
        "timings": {
            "export": exported["seconds"],
            "features": features["seconds"],
            "train": {k: r["seconds"] for k, r in trained.items()},
            "evaluate": {k: r["seconds"] for k, r in evaluated.items()},
            "index": indexed["seconds"],
            # the content model's texts, embedded beside the export (its train seconds then only read them)
            **{f"{k}_ahead": g.get_result()["seconds"] for k, g in gates.items() if g.is_complete and not g.is_failed},
        },
    }
