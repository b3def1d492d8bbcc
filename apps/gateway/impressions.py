"""Impression logging off the request path, batched across requests.

Every served list becomes one impression event per item (tagged with scenario, variant and request). Sending each
list to the events app on its own cost the mesh more CPU than serving a cached feed did; here lists wait in a
per-tenant buffer and go out as one batch per tenant every `flush_s`, or sooner once `max_events` are waiting.
A batch that cannot be sent is logged and dropped: impressions are best-effort telemetry, never a reason to slow
or fail a recommendation. On shutdown the buffer is flushed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

Send = Callable[[str, list[dict[str, Any]]], Awaitable[Any]]

# The events batch API's limit per call.
MAX_BATCH = 1000


class ImpressionBuffer:
    def __init__(self, send: Send, flush_s: float, max_events: int) -> None:
        self._send = send
        self._flush_s = flush_s
        self._max_events = max_events
        self._waiting: dict[str, list[dict[str, Any]]] = {}
        self._count = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    def add(self, tenant_id: str, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        self._waiting.setdefault(tenant_id, []).extend(events)
        self._count += len(events)
        if self._flush_s <= 0 or self._count >= self._max_events:
            self._start_flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._flush_s, self._start_flush)

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self._waiting, self._count = self._waiting, {}, 0
        if waiting:
            task = asyncio.create_task(self._flush(waiting))
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def _flush(self, waiting: dict[str, list[dict[str, Any]]]) -> None:
        for tenant_id, events in waiting.items():
            for start in range(0, len(events), MAX_BATCH):
                try:
                    await self._send(tenant_id, events[start : start + MAX_BATCH])
                except Exception:
                    logger.warning(
                        "%d impressions not logged",
                        len(events[start : start + MAX_BATCH]),
                        exc_info=True,
                        extra={"tenant_id": tenant_id},
                    )

    async def close(self) -> None:
        """Sends what is waiting and waits for batches in flight."""
        self._start_flush()
        if self._flushing:
            await asyncio.gather(*list(self._flushing), return_exceptions=True)
