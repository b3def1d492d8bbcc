"""The profiles app's route and subscription dependencies as typed aliases (what the lifespan in main.py builds,
on app.state): the routes take the services (service.py), the subscriptions the realtime layer too."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from apps.profiles.ingest import Realtime
from apps.profiles.service import DeadLetterQueue, Profiles


def _profiles(request: Request) -> Profiles:
    return request.app.state.profiles  # type: ignore[no-any-return]


def _dead_letters(request: Request) -> DeadLetterQueue:
    return request.app.state.dead_letters  # type: ignore[no-any-return]


def _realtime(request: Request) -> Realtime:
    return request.app.state.realtime  # type: ignore[no-any-return]


ProfilesDep = Annotated[Profiles, Depends(_profiles)]
DeadLettersDep = Annotated[DeadLetterQueue, Depends(_dead_letters)]
RealtimeDep = Annotated[Realtime, Depends(_realtime)]
