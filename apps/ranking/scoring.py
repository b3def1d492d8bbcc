"""The `rank` stage: scores a RankRequest's candidates with the asked-for ranker, or falls back to `weighted`.

Rankers: the learned kinds (fusion, deepfm, wide_deep: the tenant's active version, one batched forward pass over
every candidate), `weighted` (lemo.ranking.weighted over each candidate's merged recall score and per-channel
scores) and `random` (exploration baselines). A learned ranker that has no active version, is still loading for
the first time, or fails is replaced by `weighted`, and `fallback` says why: a fallback is never an error.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from apps.ranking.pool import RankerPool
from apps.ranking.schemas import RankCall
from lemo.models import RANKER_KINDS, UserMeta
from lemo.ranking.weighted import weighted_score
from lemo.serving.contract import Candidates, RankResponse

logger = logging.getLogger(__name__)

# The weighted ranker's features: "recall" is the candidate's merged recall score (weighted reciprocal-rank fusion
# of the channels, lemo.recall_merge), and each channel's name its own raw score. Without `context.weights` the
# merged score alone orders the list, i.e. recall's own order.
RECALL_FEATURE = "recall"
DEFAULT_WEIGHTS: dict[str, float] = {RECALL_FEATURE: 1.0}


def rank(call: RankCall, pool: RankerPool) -> RankResponse:
    started = time.perf_counter()
    ranker, version, fallback, serves = call.ranker, None, None, None
    scores: list[float] | None = None
    if ranker == "random":
        scores = random_scores(len(call.candidates), call.context.get("seed"))
    elif ranker in RANKER_KINDS:
        served, why = pool.get(call.tenant_id, ranker)
        if served is None:
            fallback = f"{ranker}: {why}"
        else:
            try:
                scores = learned_scores(served.model, call)
                version = served.version
                # the ranker guard's choice: a channel's order serves in the ranker's place, and says why
                serves = getattr(served.model, "fallback_reason", None)
            except Exception as exc:
                logger.exception("%s v%d failed to score", ranker, served.version, extra={"tenant_id": call.tenant_id})
                fallback = f"{ranker} v{served.version}: scoring failed ({type(exc).__name__})"
    elif ranker != "weighted":
        fallback = f"unknown ranker {ranker!r}"
    if scores is None:
        ranker = "weighted"
        scores = weighted(call.candidates, call.context.get("weights"))
    ms = (time.perf_counter() - started) * 1000.0
    logger.debug("ranked %d candidates with %s in %.1f ms", len(scores), ranker, ms)
    return RankResponse(
        scores=scores, ranker=ranker, version=version, fallback=fallback, serves=serves, ms=round(ms, 3)
    )


def learned_scores(model: Any, call: RankCall) -> list[float]:
    """One `score` call, hence one forward pass, for all candidates. The user's attributes come from the request
    (the gateway fills them from the profile); history is the realtime recent items."""
    user = UserMeta(str(call.user.user_id), dict(call.user.attributes))
    ids = call.candidates.item_ids
    logits = np.asarray(model.score(user, call.user.recent_items, ids, context=call.context), dtype=np.float64)
    if logits.shape != (len(ids),):
        raise ValueError(f"the model returned {logits.shape} scores for {len(ids)} candidates")
    return np.nan_to_num(logits, nan=-1e9, posinf=1e9, neginf=-1e9).tolist()


def weighted(candidates: Candidates, weights: Any) -> list[float]:
    """sum(weight * feature) per candidate over its merged recall score and channel scores (see RECALL_FEATURE;
    a channel score the candidate lacks counts 0); weights come from the request context's `weights` when it is a
    mapping of names to numbers."""
    chosen = _weights(weights)
    if set(chosen) == {RECALL_FEATURE}:  # the usual case: recall's own order, scaled
        return [chosen[RECALL_FEATURE] * s for s in candidates.scores]
    return [
        weighted_score({**candidates.sources(i), RECALL_FEATURE: score}, chosen)
        for i, score in enumerate(candidates.scores)
    ]


def random_scores(n: int, seed: Any) -> list[float]:
    """Uniform scores, reproducible for an integer `seed` (context.seed), else fresh per request."""
    rng = np.random.default_rng(seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else None)
    return rng.random(n).tolist()


def _weights(weights: Any) -> Mapping[str, float]:
    if not isinstance(weights, Mapping) or not weights:
        return DEFAULT_WEIGHTS
    chosen = {
        str(k): float(v)
        for k, v in weights.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }
    return chosen or DEFAULT_WEIGHTS
