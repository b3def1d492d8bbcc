"""Invocable methods of the ranking app (reached over gRPC through its sidecar)."""

from __future__ import annotations

import json

from dapr.clients.grpc._request import InvokeMethodRequest
from dapr.clients.grpc._response import InvokeMethodResponse
from pydantic import ValidationError

from lemo import __version__
from lemo.ranking.weighted import ScoreRequest, weighted_scores

JSON = "application/json"


def score(request: InvokeMethodRequest) -> InvokeMethodResponse:
    try:
        parsed = ScoreRequest.model_validate_json(request.data)
    except ValidationError as exc:
        error = {"error": {"code": "invalid_request", "details": exc.errors(include_url=False)}}
        return InvokeMethodResponse(json.dumps(error, default=str).encode(), JSON)
    ranked = weighted_scores(parsed.candidates, parsed.weights)
    body = {"ranker": "weighted", "items": [s.model_dump() for s in ranked]}
    return InvokeMethodResponse(json.dumps(body).encode(), JSON)


def healthz(_: InvokeMethodRequest) -> InvokeMethodResponse:
    return InvokeMethodResponse(json.dumps({"status": "ok", "app": "ranking", "version": __version__}).encode(), JSON)
