"""The feeds app's route dependencies as typed aliases (what the lifespan in main.py builds, on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from apps.feeds.refresher import Refresher
from apps.feeds.service import Feeds
from apps.feeds.settings import FeedsSettings
from apps.shared.deps import from_state

SettingsDep = Annotated[FeedsSettings, Depends(from_state("settings"))]
FeedsDep = Annotated[Feeds, Depends(from_state("feeds"))]
RefresherDep = Annotated[Refresher, Depends(from_state("refresher"))]
