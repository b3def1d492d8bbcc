"""/experiments: a scenario's experiment counters (lemo/experiments/counts.py), as the gateway's readouts read them.
Raw counts per slot (experiment/variant, no experiment, unattributed) and metric; the statistics are the gateway's
(lemo/experiments/readout.py)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from fastapi import APIRouter, Query, status

from apps.events.deps import Counts
from apps.shared.errors import ApiError
from lemo.event_counts import MAX_TIMESTAMP
from lemo.events import FUTURE_SKEW_S, Identifier
from lemo.experiments.counts import Interval, WindowError, by_slot, check_kept, series_cells, widen
from lemo.scenarios import ScenarioId

router = APIRouter(prefix="/experiments", tags=["experiments"])


@router.get("/{tenant_id}/{scenario_id}/counts")
async def counts(
    tenant_id: Identifier,
    scenario_id: ScenarioId,
    store: Counts,
    since: float = Query(ge=0, le=MAX_TIMESTAMP, description="unix seconds"),
    until: float = Query(ge=0, le=MAX_TIMESTAMP, description="unix seconds"),
    interval: Interval | None = Query(None, description="also one row of counts per bucket, the window widened"),
) -> dict[str, Any]:
    """{"totals": {slot: {metric: n}}, "series": [{"start", "counts"}] | null} over [since, until): at minute
    resolution without `interval` (widened at each end to the finest resolution still kept there), else widened to
    whole intervals with one series row per interval; 422 `interval_not_kept` when the window starts before the
    interval's buckets are kept (docs/experiments.md)."""
    # Nothing is counted later than an event may be stamped (a few minutes ahead): buckets past that are empty.
    readable_until = time.time() + FUTURE_SKEW_S
    if interval is None:
        if since >= until:
            raise ApiError(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_window", "since must be before until")
        found = (
            await store.experiment_window(tenant_id, scenario_id, since, min(until, readable_until))
            if since < readable_until
            else {}
        )
        return {"since": since, "until": until, "interval": None, "totals": by_slot(found), "series": None}
    try:
        window = widen(since, until, interval)
        check_kept(window, time.time(), store.retention)
    except WindowError as exc:
        raise ApiError(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.code, str(exc), **exc.details) from exc
    buckets = await store.experiment_buckets(series_cells(tenant_id, scenario_id, window, readable_until))
    totals: Counter[str] = Counter()
    for bucket in buckets:
        totals.update(bucket)
    return {
        "since": window.since,
        "until": window.until,
        "interval": interval.value,
        "totals": by_slot(totals),
        "series": [{"start": s, "counts": by_slot(b)} for s, b in zip(window.starts, buckets, strict=True)],
    }
