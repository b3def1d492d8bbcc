"""Model versions and the rule that decides which one serves.

A version is one trained model of one kind for one tenant, registered by one training run. Its status moves
candidate -> active -> archived (and pruned once its artifact is deleted by the cleanup schedule). Exactly one
version per (tenant, kind, run) exists, whatever the retries, because the run id is part of its identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, Strict

from lemo.documents import AS_WHOLE, INT64_MAX


class ModelStatus(StrEnum):
    CANDIDATE = "candidate"
    ACTIVE = "active"
    ARCHIVED = "archived"
    PRUNED = "pruned"


class ActivationPolicy(StrEnum):
    # Activate a candidate when no version is active or its primary holdout metric is at least as good as the
    # active version's, plus `min_gain` (relative). The default.
    BETTER = "better"
    ALWAYS = "always"
    # Never activate automatically: an operator activates through the API or `lemo models activate`.
    MANUAL = "manual"


# The holdout metric that decides activation, per family of model kinds: recall channels rank whole catalogs,
# rankers score given candidates.
RECALL_PRIMARY_METRIC = "ndcg@10"
RANKER_PRIMARY_METRIC = "auc"
# A ranker's own metrics include its whole pipeline's (recall -> this ranker -> top 10) under this prefix, measured
# on the same validation split as the channels' own NDCG: the ranker guard compares the two.
PIPELINE_PREFIX = "pipeline_"


class ModelVersion(BaseModel):
    tenant_id: str
    kind: str
    version: int = Field(ge=1)
    run_id: str
    status: ModelStatus = ModelStatus.CANDIDATE
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    artifact_uri: str
    # Where this version's item vectors were written (a Milvus Lite file or a server collection), if any.
    vectors_uri: str | None = None
    train_seconds: float = 0.0
    # Rankers that use recall channels' scores as features: the artifacts of those channels (kind -> URI),
    # which serving must load beside the ranker.
    inputs: dict[str, str] = Field(default_factory=dict)
    # Rankers only: the recall channel whose order serves in this ranker's place, because the ranker's pipeline
    # did not beat that channel alone on the validation split (`ranker_guard`). `note`: the guard's reason, or
    # what a model that steps aside past a catalog size leaves out (lemo.models.linear.coverage_note).
    serves: str | None = None
    note: str = ""
    created_at: float
    activated_at: float | None = None


def primary_metric(kind: str, ranker_kinds: tuple[str, ...]) -> str:
    return RANKER_PRIMARY_METRIC if kind in ranker_kinds else RECALL_PRIMARY_METRIC


def should_activate(
    candidate: ModelVersion,
    active: ModelVersion | None,
    policy: ActivationPolicy,
    metric: str,
    min_gain: float = 0.0,
) -> tuple[bool, str]:
    """Whether `candidate` replaces `active` under `policy`, with the reason (shown in run status and logs).

    Holdouts differ between runs (each run splits the data it exported), so the comparison is between two
    honest estimates, not two measurements on one set; `min_gain` guards against churn on noise.
    """
    if policy is ActivationPolicy.MANUAL:
        return False, "policy is manual"
    if active is None:
        return True, "no active version"
    if policy is ActivationPolicy.ALWAYS:
        return True, "policy is always"
    new, old = candidate.metrics.get(metric), active.metrics.get(metric)
    if new is None:
        return False, f"candidate has no {metric}"
    if old is None:
        return True, f"active version has no {metric}"
    if new >= old * (1.0 + min_gain):
        return True, f"{metric} {new:.4f} >= active {old:.4f}"
    return False, f"{metric} {new:.4f} < active {old:.4f}"


@dataclass(frozen=True)
class GuardDecision:
    serve_ranker: bool
    channel: str | None  # the best single channel on validation (None: no channel to compare with)
    reason: str


def ranker_guard(
    ranker_metrics: Mapping[str, float],
    channel_metrics: Mapping[str, Mapping[str, float]],
    metric: str = RECALL_PRIMARY_METRIC,
) -> GuardDecision:
    """Whether a ranker serves: only when its pipeline's `metric` beats the best single channel's on the same
    validation split. A tie goes to the channel (the simpler order, and the cheaper one to serve); a ranker
    whose pipeline was not measured does not serve when there is a channel to serve instead."""
    scored = {k: m[metric] for k, m in channel_metrics.items() if metric in m}
    if not scored:
        return GuardDecision(True, None, "no channel to compare with")
    channel = max(sorted(scored), key=lambda k: scored[k])
    best = scored[channel]
    pipeline = ranker_metrics.get(PIPELINE_PREFIX + metric)
    if pipeline is None:
        return GuardDecision(False, channel, f"pipeline {metric} not measured; {channel}'s order serves")
    if pipeline > best:
        return GuardDecision(True, channel, f"pipeline {metric} {pipeline:.4f} > {channel} alone {best:.4f}")
    return GuardDecision(
        False, channel, f"pipeline {metric} {pipeline:.4f} <= {channel} alone {best:.4f}; {channel}'s order serves"
    )


def decide_activation(
    candidate: ModelVersion,
    active: ModelVersion | None,
    policy: ActivationPolicy,
    metric: str,
    min_gain: float = 0.0,
) -> tuple[bool, str]:
    """`should_activate`, with the ranker guard's outcome first: a ranker version that serves a channel's order
    (`serves`) is activated as this run's decision, so an older ranker stops serving over newer channels; a
    ranker that passed its guard replaces such a fallback whatever their AUCs."""
    if policy is not ActivationPolicy.MANUAL and candidate.serves is not None:
        return True, f"ranker not served: {candidate.note}"
    if policy is not ActivationPolicy.MANUAL and active is not None and active.serves is not None:
        return True, f"replaces a fallback to {active.serves}'s order ({candidate.note or 'guard passed'})"
    return should_activate(candidate, active, policy, metric, min_gain)


# The kinds a training run trains: lemo.models.factory.MODEL_KINDS, named here without importing the models (and
# torch) into the API's schemas; tests/unit/test_registry.py keeps the two equal.
ModelKind = Literal[
    "item_cf", "user_cf", "als", "two_tower", "ease", "popular", "content", "deepfm", "wide_deep", "fusion", "gbdt"
]


# The largest evaluation sample a train request may ask for (0, every holdout user, aside): scoring costs users x
# catalog per model, and 5,000 users already measure NDCG@10 within about +-0.008.
MAX_EVALUATION_USERS = 1_000_000


EvaluationUsers = Annotated[int, Strict(), Field(ge=0, le=MAX_EVALUATION_USERS), AS_WHOLE]


class TrainOptions(BaseModel):
    """A train request as the public API takes it (the tenant comes from the caller's key); unset fields take
    the train workflow's defaults."""

    kinds: list[ModelKind] | None = Field(default=None, min_length=1, max_length=32)
    policy: ActivationPolicy | None = None
    min_gain: float | None = Field(default=None, ge=0.0, le=1.0)
    holdout_ratio: float | None = Field(default=None, ge=0.05, le=0.5)
    seed: int | None = None
    params: dict[str, dict[str, Any]] | None = None
    max_interactions: int | None = Field(default=None, ge=1)
    evaluation_users: EvaluationUsers | None = Field(
        default=None,
        description="Holdout users every model of the run is scored on: a seeded sample, the same for all models "
        "(default 5,000; 0: every holdout user). Evaluation costs users x catalog per model; NDCG@10's 95% "
        "interval over 5,000 users is about +-0.008.",
    )


class ActivateBody(BaseModel):
    version: int = Field(ge=1, le=INT64_MAX)  # versions are stored as 64-bit integers
