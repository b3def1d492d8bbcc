"""The rerank app's route dependencies as typed aliases (what the lifespan in main.py builds, on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from apps.rerank.stage import RerankStage
from apps.shared.deps import from_state

Stage = Annotated[RerankStage, Depends(from_state("stage"))]
