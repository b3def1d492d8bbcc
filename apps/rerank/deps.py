"""The rerank app's route dependencies as typed aliases (what the lifespan in main.py builds, on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from apps.rerank.stage import RerankStage


def _stage(request: Request) -> RerankStage:
    return request.app.state.stage  # type: ignore[no-any-return]


Stage = Annotated[RerankStage, Depends(_stage)]
