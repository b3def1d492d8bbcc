"""The trainer app's route dependencies as typed aliases (what the lifespan in main.py builds, on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from apps.trainer.service import Trainer


def _trainer(request: Request) -> Trainer:
    return request.app.state.trainer  # type: ignore[no-any-return]


TrainerDep = Annotated[Trainer, Depends(_trainer)]
