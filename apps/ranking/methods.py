"""Invocable methods and subscriptions of the ranking app (reached over gRPC through its sidecar)."""

from __future__ import annotations

import json
import logging
from typing import Any

from cloudevents.sdk.event import v1
from dapr.clients.grpc._request import InvokeMethodRequest
from dapr.clients.grpc._response import InvokeMethodResponse, TopicEventResponse
from pydantic import ValidationError

from apps.ranking.pool import RankerPool
from apps.ranking.schemas import RankCall
from apps.ranking.scoring import rank as rank_stage
from lemo import __version__
from lemo.ranking.weighted import ScoreRequest, weighted_scores

logger = logging.getLogger(__name__)

JSON = "application/json"
ACTIVATED = "model-activated"


def _json(body: dict[str, Any]) -> InvokeMethodResponse:
    return InvokeMethodResponse(json.dumps(body, default=str).encode(), JSON)


def _invalid(exc: ValidationError) -> InvokeMethodResponse:
    return _json({"error": {"code": "invalid_request", "details": exc.errors(include_url=False)}})


class RankingMethods:
    def __init__(self, pool: RankerPool) -> None:
        self._pool = pool

    def rank(self, request: InvokeMethodRequest) -> InvokeMethodResponse:
        """Method `rank`. Body (JSON): a lemo.serving.contract.RankRequest plus the tenant, candidates as columns:
            {"tenant_id": "acme", "user": {"user_id": "42", "recent_items": [...], "attributes": {...}},
             "ranker": "fusion", "candidates": {"item_ids": ["7"], "scores": [0.9], "channels": {"item_cf": [3.1]}},
             "context": {"seed": 7, "weights": {"recall": 1.0, "item_cf": 0.2}}}
        Answer: a RankResponse {"scores": [...aligned with candidates], "ranker", "version", "fallback", "ms"}.
        `context.seed` seeds `random`; `context.weights` weighs `weighted`'s features ("recall" = the merged recall
        score, a channel name = that channel's score). An invalid body answers {"error": {"code":
        "invalid_request", "details": [...]}} (dapr-ext-grpc gives methods no way to set a status)."""
        try:
            call = RankCall.model_validate_json(request.data)
        except ValidationError as exc:
            return _invalid(exc)
        return InvokeMethodResponse(rank_stage(call, self._pool).model_dump_json().encode(), JSON)

    def on_model_event(self, event: v1.Event) -> TopicEventResponse:
        """The `models` topic: a model-activated event refreshes the tenant's rankers it concerns."""
        try:
            data = event.data
            body = json.loads(data if isinstance(data, str | bytes | bytearray) else "null")
            if not isinstance(body, dict) or body.get("type") != ACTIVATED:
                return TopicEventResponse("success")
            tenant_id, kind = str(body["tenant_id"]), str(body["kind"])
        except (ValueError, TypeError, KeyError):
            logger.warning("dropping a malformed models event %s", event.EventID())
            return TopicEventResponse("drop")
        refreshed = self._pool.on_activated(tenant_id, kind)
        logger.info(
            "%s v%s activated for tenant %s: %d ranker(s) refreshing",
            kind,
            body.get("version"),
            tenant_id,
            refreshed,
            extra={"tenant_id": tenant_id},
        )
        return TopicEventResponse("success")


def score(request: InvokeMethodRequest) -> InvokeMethodResponse:
    """Method `score`: the weighted score of named features ({"candidates": [{"item_id", "features"}], "weights"})."""
    try:
        parsed = ScoreRequest.model_validate_json(request.data)
    except ValidationError as exc:
        return _invalid(exc)
    ranked = weighted_scores(parsed.candidates, parsed.weights)
    return _json({"ranker": "weighted", "items": [s.model_dump() for s in ranked]})


def healthz(_: InvokeMethodRequest) -> InvokeMethodResponse:
    return _json({"status": "ok", "app": "ranking", "version": __version__})
