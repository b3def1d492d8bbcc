"""The recall app's route dependencies as typed aliases (what the lifespan in main.py builds, on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from apps.recall.bootstrap import Parts
from apps.recall.catalog import CatalogView
from apps.recall.model_cache import ModelCache
from apps.recall.service import Recaller


def _parts(request: Request) -> Parts:
    return request.app.state.parts  # type: ignore[no-any-return]


def _recaller(parts: Annotated[Parts, Depends(_parts)]) -> Recaller:
    return parts.recaller


def _models(parts: Annotated[Parts, Depends(_parts)]) -> ModelCache:
    return parts.models


def _catalog(parts: Annotated[Parts, Depends(_parts)]) -> CatalogView:
    return parts.catalog


RecallerDep = Annotated[Recaller, Depends(_recaller)]
Models = Annotated[ModelCache, Depends(_models)]
Catalog = Annotated[CatalogView, Depends(_catalog)]
