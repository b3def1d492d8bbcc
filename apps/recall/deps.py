"""The recall app's route dependencies as typed aliases (what the lifespan in main.py builds, on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from apps.recall.bootstrap import Parts
from apps.recall.catalog import CatalogView
from apps.recall.model_cache import ModelCache
from apps.recall.service import Recaller
from apps.shared.deps import from_state


def _recaller(parts: Annotated[Parts, Depends(from_state("parts"))]) -> Recaller:
    return parts.recaller


def _models(parts: Annotated[Parts, Depends(from_state("parts"))]) -> ModelCache:
    return parts.models


def _catalog(parts: Annotated[Parts, Depends(from_state("parts"))]) -> CatalogView:
    return parts.catalog


RecallerDep = Annotated[Recaller, Depends(_recaller)]
Models = Annotated[ModelCache, Depends(_models)]
Catalog = Annotated[CatalogView, Depends(_catalog)]
