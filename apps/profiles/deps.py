"""The profiles app's route and subscription dependencies as typed aliases (what the lifespan in main.py builds,
on app.state): the routes take the services (service.py), the subscriptions the realtime layer too."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from apps.profiles.ingest import Realtime
from apps.profiles.service import DeadLetterQueue, Profiles
from apps.shared.deps import from_state

ProfilesDep = Annotated[Profiles, Depends(from_state("profiles"))]
DeadLettersDep = Annotated[DeadLetterQueue, Depends(from_state("dead_letters"))]
RealtimeDep = Annotated[Realtime, Depends(from_state("realtime"))]
