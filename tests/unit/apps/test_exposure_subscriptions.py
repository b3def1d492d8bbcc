"""Who takes the exposures topic (what each app answers at GET /dapr/subscribe): the events archive and the profiles
app in bulk, and never the feeds app, so a served list cannot refresh a feed (refreshing on what was served would
loop)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from apps.events import archive
from apps.events.settings import EventsSettings
from apps.feeds import refresh
from apps.feeds.settings import FeedsSettings
from apps.profiles import subscriptions
from apps.profiles.settings import ProfilesSettings
from apps.shared.settings import EVENTS_TOPIC, EXPOSURES_TOPIC


def _only_settings(subscribe: Callable[..., None], settings: object) -> dict[str, Any]:
    names = list(inspect.signature(subscribe).parameters)[1:]
    return {name: settings if name == "settings" else None for name in names}


def _subscribed(app: FastAPI) -> dict[str, dict[str, Any]]:
    return {s["topic"]: s for s in TestClient(app).get("/dapr/subscribe").json()}


def test_the_archive_and_the_profiles_app_take_exposures_in_bulk() -> None:
    # The handlers' stores are not called here: each parameter but the app and the settings gets None.
    events_app, profiles_app = FastAPI(), FastAPI()
    archive.subscribe(events_app, **_only_settings(archive.subscribe, EventsSettings()))
    subscriptions.subscribe(profiles_app, **_only_settings(subscriptions.subscribe, ProfilesSettings()))
    for app in (events_app, profiles_app):
        exposures = _subscribed(app)[EXPOSURES_TOPIC]
        assert exposures["bulkSubscribe"]["enabled"] is True
        assert "deadLetterTopic" not in exposures  # best-effort telemetry: a malformed record is dropped


def test_the_feeds_app_never_reads_exposures() -> None:
    feeds_app = FastAPI()
    refresh.subscribe(feeds_app, FeedsSettings())
    assert set(_subscribed(feeds_app)) == {EVENTS_TOPIC}
