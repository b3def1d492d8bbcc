"""The catalog app's route dependencies as typed aliases (what the lifespan in main.py builds, on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from apps.catalog.service import Catalog
from apps.shared.deps import from_state

CatalogDep = Annotated[Catalog, Depends(from_state("catalog"))]
