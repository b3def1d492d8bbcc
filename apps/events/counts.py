"""Event counts (lemo/event_counts.py) and experiment counters (lemo/experiments/counts.py) kept in the Dapr state
store, through the events app's sidecar.

Each bucket document is one state key (`evcount:<tenant>|<level>|<unit>` for event counts,
`xpcount:<tenant>|<scenario>|<level>|<unit>` for experiments, tenant first like every key here), so a window is one
bulk read of at most seven keys, whatever the window or the archive's size. A MongoDB collection was tried first:
FerretDB answers a `find_one` for a missing `_id` by reading the whole collection (50-100 ms per window at 20,000
counted events, growing with them), and windows mostly name buckets that were never written. A served list's
attribution entry (`xpreq:<tenant>|<request_id>`) lives beside them with a TTL, the attribution window (so does
the entry of events waiting for a list that has not arrived).

The state API has no increment: a delivery's counts are read, added and written back in one transaction that
requires the etags read (first-write concurrency), together with the attribution entries the delivery wrote or
changed; another replica that wrote meanwhile makes it fail, and it is read and tried again. One writer per process
at a time, so retries happen only between replicas.

Every minute, hour and day bucket is written with a TTL (`ttlInSeconds`, per operation of the transaction) that ends
its retention (lemo.event_counts.Retention: EVENTS_COUNT_*_RETENTION_DAYS), counted from the end of the span the
document covers, so each write pushes the same expiry again; month documents have none. A count for a bucket
already past its retention is dropped rather than written back for a second.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from apps.shared.sidecar import SidecarHttp
from lemo import event_counts
from lemo.event_counts import KEEP_ALL, Cell, Retention
from lemo.events import Event
from lemo.experiments import counts as experiment_counts
from lemo.experiments.counts import Entry, Served, entry_from_state
from lemo.exposures import Exposure
from lemo.popularity import archived_marker_key

KEY_PREFIX = "evcount:"
EXPERIMENT_PREFIX = "xpcount:"
SERVED_PREFIX = "xpreq:"
ATTEMPTS = 8
_JSON = {"content-type": "application/json"}


class CountsUnavailable(RuntimeError):
    pass


def _keyed(prefix: str, increments: Mapping[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {prefix + doc_id: fields for doc_id, fields in increments.items()}


class SidecarEventCounts:
    def __init__(
        self, http: SidecarHttp, store: str, attribution_ttl_s: float = 86400.0, retention: Retention = KEEP_ALL
    ) -> None:
        self._http = http  # based at this app's sidecar
        self._store = store
        self._ttl_s = attribution_ttl_s
        self._retention = retention
        self._writing = asyncio.Lock()
        self._last_refusal = ""

    @property
    def retention(self) -> Retention:
        return self._retention

    async def _read(self, keys: Sequence[str]) -> dict[str, tuple[Any, str | None]]:
        """Full state keys -> (value, etag) for the keys that exist."""
        if not keys:
            return {}
        body = json.dumps({"keys": list(keys), "parallelism": 8})
        resp = await self._http.post(f"/v1.0/state/{self._store}/bulk", content=body, headers=_JSON)
        if resp.status_code != 200:
            raise CountsUnavailable(f"state bulk read answered {resp.status_code}: {resp.text[:200]}")
        return {item["key"]: (item["data"], item.get("etag")) for item in resp.json() if item.get("data") is not None}

    async def _commit(self, increments: Mapping[str, dict[str, int]], entries: Sequence[dict[str, Any]]) -> bool:
        """Adds `increments` ({state key: {"<unit>.<field>": n}}) to the documents as read now and writes them with
        `entries` (ready upsert requests) in one transaction; False when another writer changed one meanwhile."""
        now = time.time()
        ttls = {key: event_counts.expires_in(key, now, self._retention) for key in increments}
        kept = {key: fields for key, fields in increments.items() if (ttl := ttls[key]) is None or ttl >= 1}
        current = await self._read(sorted(kept))
        operations = [{"operation": "upsert", "request": entry} for entry in entries]
        for key, fields in kept.items():
            doc, etag = current.get(key, ({}, None))
            for path, n in fields.items():
                unit, field = path.split(".", 1)
                cell = doc.setdefault(unit, {})
                cell[field] = int(cell.get(field, 0)) + n
            request: dict[str, Any] = {"key": key, "value": doc, "options": {"concurrency": "first-write"}}
            if etag:
                request["etag"] = etag
            if (ttl := ttls[key]) is not None:
                request["metadata"] = {"ttlInSeconds": str(int(ttl))}
            operations.append({"operation": "upsert", "request": request})
        if not operations:
            return True
        resp = await self._http.post(
            f"/v1.0/state/{self._store}/transaction", content=json.dumps({"operations": operations}), headers=_JSON
        )
        self._last_refusal = f"{resp.status_code} {resp.text[:200]}"
        return resp.status_code in (200, 204)

    def _entry(self, entry_id: str, entry: Entry, etag: str | None = None) -> dict[str, Any]:
        """The upsert request of an attribution entry: a list's lives the attribution window after it was served,
        events waiting for a list as long from the last of them."""
        ttl = max(1, int(entry.served_at + self._ttl_s - time.time())) if isinstance(entry, Served) else self._ttl_s
        request: dict[str, Any] = {
            "key": SERVED_PREFIX + entry_id,
            "value": entry.to_state(),
            "metadata": {"ttlInSeconds": str(int(ttl))},
        }
        if etag:
            request.update(etag=etag, options={"concurrency": "first-write"})
        return request

    async def _entries(self, entry_ids: Sequence[str]) -> dict[str, tuple[Entry, str | None]]:
        found = await self._read([SERVED_PREFIX + k for k in entry_ids])
        return {k[len(SERVED_PREFIX) :]: (entry_from_state(v), etag) for k, (v, etag) in found.items()}

    async def add(self, events: Sequence[Event]) -> None:
        """Counts these events once each, by type and, where they follow a served list, for its variant: give it
        only events archived for the first time."""
        if not events:
            return
        by_type = _keyed(KEY_PREFIX, event_counts.increments((e.tenant_id, e.type.value, e.timestamp) for e in events))
        tenants = sorted({e.tenant_id for e in events})  # their archives moved: the popularity cron reruns them
        wanted = experiment_counts.attribution_keys(events)
        async with self._writing:
            for _ in range(ATTEMPTS):
                found = await self._entries(wanted)
                attributed, changed = experiment_counts.event_increments(events, {k: e for k, (e, _) in found.items()})
                increments = {**by_type, **_keyed(EXPERIMENT_PREFIX, attributed)}
                entries = [self._entry(k, e, found[k][1] if k in found else None) for k, e in changed.items()]
                entries += [{"key": archived_marker_key(t), "value": {"at": time.time()}} for t in tenants]
                if await self._commit(increments, entries):
                    return
        raise CountsUnavailable(f"counts not written after {ATTEMPTS} tries: {self._last_refusal}")

    async def add_exposures(self, exposures: Sequence[Exposure]) -> None:
        """Counts these served lists once each and leaves their attribution entries, taking over the events that
        waited for them: give it only lists archived for the first time."""
        if not exposures:
            return
        wanted = sorted({experiment_counts.entry_id(e.tenant_id, e.request_id) for e in exposures})
        async with self._writing:
            for _ in range(ATTEMPTS):
                found = await self._entries(wanted)
                counted, entries = experiment_counts.exposure_increments(
                    exposures, {k: e for k, (e, _) in found.items()}
                )
                writes = [self._entry(k, e, found[k][1] if k in found else None) for k, e in entries.items()]
                if await self._commit(_keyed(EXPERIMENT_PREFIX, counted), writes):
                    return
        raise CountsUnavailable(f"list counts not written after {ATTEMPTS} tries: {self._last_refusal}")

    async def window(self, tenant_id: str, since: float, until: float) -> dict[str, int]:
        """Events per type with a timestamp in [since, until), at minute resolution where minute buckets are still
        kept, else widened to the finest resolution kept at each end (lemo.event_counts.kept_window)."""
        cells = event_counts.window_cells(tenant_id, since, until, time.time(), self._retention)
        return await self._total(KEY_PREFIX, cells)

    async def _total(self, prefix: str, cells: Sequence[Cell]) -> dict[str, int]:
        found = await self._read(sorted({prefix + c.doc_id for c in cells}))
        return event_counts.total(cells, {k[len(prefix) :]: doc for k, (doc, _) in found.items()})

    async def experiment_window(self, tenant_id: str, scenario: str, since: float, until: float) -> dict[str, int]:
        """A scenario's counters ({"<slot>|<metric>": n}) over [since, until), at minute resolution where kept (as
        `window`)."""
        where = experiment_counts.prefix(tenant_id, scenario)
        cells = event_counts.window_cells(where, since, until, time.time(), self._retention)
        return await self._total(EXPERIMENT_PREFIX, cells)

    async def experiment_buckets(self, cells: Sequence[Cell | None]) -> list[dict[str, int]]:
        """Each bucket's counters ({"<slot>|<metric>": n}), in the order of `cells` (None: nothing counted)."""
        real = [c for c in cells if c is not None]
        found = await self._read(sorted({EXPERIMENT_PREFIX + c.doc_id for c in real}))
        docs = {k[len(EXPERIMENT_PREFIX) :]: doc for k, (doc, _) in found.items()}
        return [event_counts.total([c], docs) if c is not None else {} for c in cells]
