"""The feeds app's route dependencies as typed aliases (what the lifespan in main.py builds, on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from apps.feeds.refresher import Refresher
from apps.feeds.service import Feeds
from apps.feeds.settings import FeedsSettings


def _settings(request: Request) -> FeedsSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _feeds(request: Request) -> Feeds:
    return request.app.state.feeds  # type: ignore[no-any-return]


def _refresher(request: Request) -> Refresher:
    return request.app.state.refresher  # type: ignore[no-any-return]


SettingsDep = Annotated[FeedsSettings, Depends(_settings)]
FeedsDep = Annotated[Feeds, Depends(_feeds)]
RefresherDep = Annotated[Refresher, Depends(_refresher)]
