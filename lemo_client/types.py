"""The shapes of the API's main answers, as TypedDicts (plain dicts at run time, checked by mypy and IDEs).
Answers not listed here are returned as `dict[str, Any]`; the gateway's /openapi.json describes every one."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class ScoredItem(TypedDict):
    item_id: str
    score: float
    sources: NotRequired[list[str]]  # with debug=True: the recall channels that found it


class Recommendations(TypedDict):
    request_id: str
    user_id: str
    scenario: str
    experiment: str | None
    variant: str | None
    mode: str  # how it was served: online, cached, workflow, or the fallback taken
    degraded: bool  # a stage failed and a fallback filled the list
    reasons: list[str]
    items: list[ScoredItem]
    debug: NotRequired[dict[str, Any]]


class BatchResult(TypedDict):
    """An NDJSON upsert's answer: lines taken, lines refused, and why (`line` counts from 1 over all rows sent)."""

    accepted: int
    rejected: int
    errors: list[dict[str, Any]]


class EventResult(TypedDict):
    event_id: str | None
    status: str  # accepted or rejected
    error: NotRequired[dict[str, Any]]


class EventBatchResult(TypedDict):
    """`results[i]` says what became of `events[i]`."""

    accepted: int
    rejected: int
    results: list[EventResult]


class ItemPage(TypedDict):
    items: list[dict[str, Any]]
    next: str | None  # the cursor of the next page; None on the last
    total: NotRequired[int]


class UserPage(TypedDict):
    users: list[dict[str, Any]]
    next: str | None
    total: NotRequired[int]
