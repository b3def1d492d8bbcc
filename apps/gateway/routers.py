"""The public API's routers, in the order the gateway mounts them (one file per URL prefix)."""

from __future__ import annotations

from fastapi import APIRouter

from apps.gateway import (
    admin,
    events,
    experiments,
    feeds,
    ingest,
    items,
    models,
    preview,
    recommend,
    scenarios,
    status,
    tenant,
    users,
)

ROUTERS: tuple[APIRouter, ...] = (
    status.router,
    admin.router,
    items.router,
    users.router,
    events.router,
    ingest.router,
    models.router,
    scenarios.router,
    experiments.router,
    recommend.router,
    feeds.router,
    preview.router,
    tenant.router,
)
