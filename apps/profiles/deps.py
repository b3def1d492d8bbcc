"""The profiles app's route dependencies as typed aliases (what the lifespan in main.py builds, on app.state)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pymongo.asynchronous.collection import AsyncCollection

from apps.profiles.attributes import AttributeCache
from apps.profiles.ingest import Realtime
from lemo.stores.mongo import UserRepository


def _users(request: Request) -> UserRepository:
    return request.app.state.users  # type: ignore[no-any-return]


def _attributes(request: Request) -> AttributeCache:
    return request.app.state.attributes  # type: ignore[no-any-return]


def _realtime(request: Request) -> Realtime:
    return request.app.state.realtime  # type: ignore[no-any-return]


def _dead_letters(request: Request) -> AsyncCollection[dict[str, Any]]:
    return request.app.state.dead_letters  # type: ignore[no-any-return]


Users = Annotated[UserRepository, Depends(_users)]
Attributes = Annotated[AttributeCache, Depends(_attributes)]
RealtimeDep = Annotated[Realtime, Depends(_realtime)]
DeadLetters = Annotated[AsyncCollection[dict[str, Any]], Depends(_dead_letters)]
