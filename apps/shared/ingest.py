"""The part of consuming ingest topics both consuming apps share (events: apps/events/ingest.py; items:
apps/catalog/ingest.py): subscribing to every tenant's topic as tenants appear, decoding and validating each message
for the topic's tenant, and recording what was accepted and what was rejected, with why."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from prometheus_client import Counter
from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings
from apps.shared.streams import DynamicSubscriptions, StreamMessage
from lemo.ingest import IngestKind, Rejection, excerpt, ingest_topic, payload_of, topic_tenant
from lemo.stores.ports import IngestRecorder, RejectedMessage

logger = logging.getLogger(__name__)

T = TypeVar("T")

COUNTS_EVERY_S = 1.0
# Per tenant in the ingest log (GET /v1/ingest/errors); here per kind and outcome only, to keep Prometheus' series few.
INGESTED = Counter("lemo_ingest_messages_total", "Messages on the tenants' ingest topics", ["kind", "outcome"])


class IngestSettings(LemoSettings):
    """The ingest consumers' settings (the same in the events and catalog apps)."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    # Whether this app consumes the tenants' ingest topics at all. Each tenant's topic is one streaming subscription
    # (on Redis, one pub/sub connection held for good: docs/ingest.md says how many tenants a replica serves); the
    # integration tests turn it off except in the ingest module, whose session database holds hundreds of tenants.
    enabled: bool = True
    # How soon a new tenant's topics are subscribed: the tenants collection is read this often.
    discover_every_s: float = 2.0
    # Messages handled (and forwarded in one bulk publish) together, at most.
    max_messages: int = 500
    # How long a batch waits for more messages after its first: none by default. The Kafka component hands a
    # stream one message per partition at a time and waits for its answer, so a wait there only adds latency (20 ms
    # made 71 events/s with 4 partitions); on Redis streams batches fill up while the previous one is handled.
    max_await_ms: int = 0


# Takes the valid messages of one delivery (message id, parsed) for one tenant; returns the ids to redeliver.
Forward = Callable[[str, Sequence[tuple[str, T]]], Awaitable[set[str]]]


async def consume_batch(
    topic: str,
    batch: Sequence[StreamMessage],
    parse: Callable[[str, Any], T],
    forward: Forward[T],
    log: IngestRecorder,
) -> dict[str, str]:
    """Statuses for one delivery: SUCCESS for a forwarded or a rejected (and recorded) message, RETRY for one that
    could not be forwarded."""
    owner = topic_tenant(topic)
    if owner is None:  # never subscribed to: DynamicSubscriptions only opens ingest topics
        return {m.message_id: "DROP" for m in batch}
    tenant_id, kind = owner
    valid: list[tuple[str, T]] = []
    rejected: list[RejectedMessage] = []
    for message in batch:
        try:
            valid.append((message.message_id, parse(tenant_id, payload_of(message.data))))
        except Rejection as rejection:
            rejected.append(RejectedMessage(message.message_id, rejection, excerpt(message.data)))
    retry = await forward(tenant_id, valid) if valid else set()
    statuses = {m.message_id: "SUCCESS" for m in batch}
    statuses.update(dict.fromkeys(retry, "RETRY"))
    INGESTED.labels(kind.value, "accepted").inc(len(valid) - len(retry))
    INGESTED.labels(kind.value, "rejected").inc(len(rejected))
    INGESTED.labels(kind.value, "retried").inc(len(retry))
    try:
        await log.record(tenant_id, kind, topic, len(valid) - len(retry), rejected)
    except Exception:
        logger.exception("recording %d rejections failed; they will be redelivered", len(rejected))
        statuses.update(dict.fromkeys((r.message_id for r in rejected), "RETRY"))
    if rejected:
        logger.info(
            "rejected %d of %d messages on %s", len(rejected), len(batch), topic, extra={"tenant_id": tenant_id}
        )
    return statuses


@asynccontextmanager
async def consuming(
    log: IngestRecorder,
    tenants: Callable[[], Awaitable[list[str]]],
    pubsub: str,
    kind: IngestKind,
    parse: Callable[[str, Any], T],
    forward: Forward[T],
    settings: IngestSettings,
) -> AsyncIterator[None]:
    """Consumes the `kind` ingest topic of every tenant `tenants` lists (asked again every `discover_every_s`)
    while the context is open, recording what became of each delivery in `log`."""

    async def topics() -> list[str]:
        return [ingest_topic(t, kind) for t in await tenants()]

    async def handle(topic: str, batch: Sequence[StreamMessage]) -> Mapping[str, str]:
        return await consume_batch(topic, batch, parse, forward, log)

    subscriptions = DynamicSubscriptions(
        pubsub,
        topics,
        handle,
        discover_every_s=settings.discover_every_s,
        max_messages=settings.max_messages,
        max_await_s=settings.max_await_ms / 1000,
    )

    async def flush_counts() -> None:
        while True:
            await asyncio.sleep(COUNTS_EVERY_S)
            try:
                await log.flush()
            except Exception:
                logger.warning("writing ingest counts failed; kept for the next flush", exc_info=True)

    if not settings.enabled:
        logger.info("ingest topics not consumed (INGEST_ENABLED is off)")
        yield
        return
    await subscriptions.start()
    flusher = asyncio.create_task(flush_counts(), name="ingest counts")
    try:
        yield
    finally:
        flusher.cancel()
        await subscriptions.stop()
        with contextlib.suppress(Exception):
            await log.flush()
