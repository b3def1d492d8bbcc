"""Item changes from the tenants' ingest topics (`ingest.<tenant>.items`, lemo/ingest.py): validated as the items
API validates them, for the topic's tenant, written and published onto the internal items topic as the batch API
does. Rejections are recorded in the same ingest log as the events app's (listed by the events app)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from apps.catalog.service import Catalog
from apps.shared import ingest
from lemo.ingest import IngestKind, ItemChange, item_change_of
from lemo.stores.ports import IngestRecorder


@asynccontextmanager
async def consuming(
    log: IngestRecorder, tenants: Callable[[], Awaitable[list[str]]], catalog: Catalog, pubsub: str
) -> AsyncIterator[None]:
    """Consumes every tenant's items ingest topic while open, recording rejections in `log`."""

    async def forward(tenant_id: str, changes: Sequence[tuple[str, ItemChange]]) -> set[str]:
        # In message order: upserts go together until a delete, so an upsert then a delete of one item ends deleted.
        retry: set[str] = set()
        upserts: list[tuple[str, ItemChange]] = []

        async def flush() -> None:
            try:
                await catalog.upsert_many(tenant_id, [(c.item_id, c.fields) for _, c in upserts])
            except Exception:
                retry.update(message_id for message_id, _ in upserts)
            upserts.clear()

        for message_id, change in changes:
            if change.op == "upsert":
                upserts.append((message_id, change))
                continue
            await flush()
            try:
                await catalog.delete_if_present(tenant_id, change.item_id)
            except Exception:
                retry.add(message_id)
        if upserts:
            await flush()
        return retry

    async with ingest.consuming(
        log, tenants, pubsub, IngestKind.ITEMS, item_change_of, forward, ingest.IngestSettings()
    ):
        yield
