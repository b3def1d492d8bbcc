"""The catalog app's route dependencies as typed aliases (what the lifespan in main.py builds, on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from apps.catalog.service import Catalog


def _catalog(request: Request) -> Catalog:
    return request.app.state.catalog  # type: ignore[no-any-return]


CatalogDep = Annotated[Catalog, Depends(_catalog)]
