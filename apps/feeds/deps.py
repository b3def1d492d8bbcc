"""The feeds app's route dependencies as typed aliases (what the lifespan in main.py builds, on app.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from apps.feeds.refresher import Refresher
from apps.feeds.scheduler import FeedScheduler
from apps.feeds.settings import FeedsSettings
from apps.shared.sidecar import SidecarHttp


def _settings(request: Request) -> FeedsSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _scheduler(request: Request) -> FeedScheduler:
    return request.app.state.scheduler  # type: ignore[no-any-return]


def _refresher(request: Request) -> Refresher:
    return request.app.state.refresher  # type: ignore[no-any-return]


def _http(request: Request) -> SidecarHttp:
    return request.app.state.http  # type: ignore[no-any-return]


SettingsDep = Annotated[FeedsSettings, Depends(_settings)]
SchedulerDep = Annotated[FeedScheduler, Depends(_scheduler)]
RefresherDep = Annotated[Refresher, Depends(_refresher)]
HttpDep = Annotated[SidecarHttp, Depends(_http)]
