"""The trainer app's route dependencies as typed aliases (what the lifespan in main.py builds, on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from apps.shared.deps import from_state
from apps.trainer.service import Trainer

TrainerDep = Annotated[Trainer, Depends(from_state("trainer"))]
