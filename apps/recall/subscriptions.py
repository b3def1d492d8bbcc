"""The recall app's subscriptions: model activations (hot reload) and item changes (the catalog view)."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request

from apps.recall.deps import Catalog, Models
from apps.recall.model_cache import ModelCache
from apps.shared.settings import ITEMS_TOPIC, MODELS_TOPIC
from apps.shared.subscriptions import Subscriptions

logger = logging.getLogger(__name__)

SUCCESS = {"status": "SUCCESS"}
DROP = {"status": "DROP"}
MODEL_ACTIVATED = "model-activated"  # workflows/training_activities.py activation_event's type


def _data(cloud_event: dict[str, Any]) -> dict[str, Any]:
    data = cloud_event.get("data")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return {}
    return data if isinstance(data, dict) else {}


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def on_model_event(data: dict[str, Any], models: ModelCache) -> dict[str, str]:
    """Reloads the named tenant and kind in the background (a no-op when that version is served already)."""
    if data.get("type") != MODEL_ACTIVATED or not data.get("tenant_id") or not data.get("kind"):
        logger.warning("dropping a models event that is not a model activation: %s", data)
        return DROP
    version = data.get("version")
    reloading = models.on_activated(
        str(data["tenant_id"]),
        str(data["kind"]),
        int(version) if isinstance(version, int | str) and str(version).isdigit() else None,
        str(data["run_id"]) if data.get("run_id") else None,
    )
    logger.log(
        logging.INFO if reloading else logging.DEBUG,
        "model activated: %s v%s%s",
        data["kind"],
        version,
        " (reloading)" if reloading else " (not served here, or served already)",
        extra={"tenant_id": data["tenant_id"]},
    )
    return SUCCESS


def subscribe(app: FastAPI, pubsub: str) -> None:
    # Bodies are read as plain JSON, not through a pydantic model (no field-by-field validation on the event loop).
    # Item changes are not taken in bulk: with Redis Streams, Dapr emulates bulk delivery by holding each of its
    # few concurrent handlers until the batch fills or its wait ends, which delivered ~100 messages a second here.
    async def on_models(request: Request, models: Models) -> dict[str, str]:
        return on_model_event(_data(await _json(request)), models)

    async def on_items(request: Request, catalog: Catalog) -> dict[str, str]:
        catalog.on_item_change(_data(await _json(request)))
        return SUCCESS

    subscriptions = Subscriptions(app)
    subscriptions.add(pubsub, MODELS_TOPIC, on_models)
    subscriptions.add(pubsub, ITEMS_TOPIC, on_items)
