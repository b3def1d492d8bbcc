"""Exposure logging off the request path: one record per served list, published in bulk.

Every served list becomes ONE `lemo.exposures.Exposure` (docs/data-plane.md, "Exposures"). Records wait here and
leave as one bulk publish through the gateway's own sidecar onto the exposures topic every `flush_s`, or sooner
once `max_lists` are waiting: no hop through the events app, no event per item. A batch the broker refuses is
logged and dropped: exposures are best-effort telemetry, never a reason to slow or fail a recommendation. On
shutdown the buffer is flushed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from apps.shared.publish import Entry
from apps.shared.settings import EXPOSURES_TOPIC
from lemo.exposures import Exposure

logger = logging.getLogger(__name__)

# Entries per bulk publish call.
MAX_BATCH = 1000


class BulkPublisher(Protocol):
    async def publish_bulk(self, topic: str, entries: Sequence[Entry]) -> dict[str, str]: ...


class ExposureBuffer:
    def __init__(self, publisher: BulkPublisher, flush_s: float, max_lists: int) -> None:
        self._publisher = publisher
        self._flush_s = flush_s
        self._max_lists = max_lists
        self._waiting: list[Exposure] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    def add(self, exposure: Exposure) -> None:
        self._waiting.append(exposure)
        if self._flush_s <= 0 or len(self._waiting) >= self._max_lists:
            self._start_flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._flush_s, self._start_flush)

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self._waiting = self._waiting, []
        if waiting:
            task = asyncio.create_task(self._flush(waiting))
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def _flush(self, waiting: list[Exposure]) -> None:
        for start in range(0, len(waiting), MAX_BATCH):
            batch = waiting[start : start + MAX_BATCH]
            # Partitioned by user: on Kafka a user's lists stay in order, as their events do.
            entries = [
                Entry(str(i), e.model_dump(mode="json"), {"partitionKey": e.actor_id}) for i, e in enumerate(batch)
            ]
            try:
                failed = await self._publisher.publish_bulk(EXPOSURES_TOPIC, entries)
            except Exception:
                logger.warning("%d exposures not logged", len(batch), exc_info=True)
                continue
            if failed:
                reason = next(iter(failed.values()))
                logger.warning("%d of %d exposures not logged: %s", len(failed), len(batch), reason)

    async def close(self) -> None:
        """Sends what is waiting and waits for batches in flight."""
        self._start_flush()
        if self._flushing:
            await asyncio.gather(*list(self._flushing), return_exceptions=True)
