"""Streaming subscriptions (Dapr's SubscribeTopicEventsAlpha1): topics an app subscribes to while it runs, without
a restart, which declarative and /dapr/subscribe subscriptions cannot do. The ingest topics use them: one per tenant,
opened when the tenant appears.

Messages are read from the gRPC stream into batches (up to `max_messages`: whatever arrived while the previous batch
was handled, plus what arrives within `max_await_s` of the first), so a handler does one bulk publish per batch, as
with bulk subscriptions. The stream is opened with
`rawPayload`, so a CloudEvent and a raw JSON message (a Kafka producer's) both reach the handler as the bytes sent
(lemo/ingest.py's payload_of tells them apart).

The SDK's own `DaprClient.subscribe` is not used: its async channel does not put the API token on streaming calls
(daprd answers UNAUTHENTICATED when DAPR_API_TOKEN is set), and it prints instead of logging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import grpc
from dapr.conf import settings as dapr_settings
from dapr.proto import api_v1, appcallback_v1
from dapr.proto.runtime.v1.dapr_pb2_grpc import DaprStub

from apps.shared.security import TOKEN_HEADER

logger = logging.getLogger(__name__)

_STATUS = appcallback_v1.TopicEventResponse.TopicEventResponseStatus


@dataclass(frozen=True, slots=True)
class StreamMessage:
    message_id: str
    topic: str
    data: bytes


# A batch handler answers each message id with SUCCESS, RETRY or DROP (Dapr's statuses).
BatchHandler = Callable[[str, Sequence[StreamMessage]], Awaitable[Mapping[str, str]]]


class TopicStream:
    """One open streaming subscription to one topic."""

    def __init__(self, stub: DaprStub, token: str | None, pubsub: str, topic: str) -> None:
        self.topic = topic
        self._stub = stub
        self._token = token
        self._pubsub = pubsub
        self._outgoing: asyncio.Queue[api_v1.SubscribeTopicEventsRequestAlpha1 | None] = asyncio.Queue()
        self._incoming: asyncio.Queue[StreamMessage | None] = asyncio.Queue()
        self._call: grpc.aio.StreamStreamCall | None = None  # type: ignore[type-arg]
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        initial = api_v1.SubscribeTopicEventsRequestAlpha1(
            initial_request=api_v1.SubscribeTopicEventsRequestInitialAlpha1(
                pubsub_name=self._pubsub, topic=self.topic, metadata={"rawPayload": "true"}
            )
        )

        async def requests() -> AsyncIterator[api_v1.SubscribeTopicEventsRequestAlpha1]:
            yield initial
            while (request := await self._outgoing.get()) is not None:
                yield request

        metadata = ((TOKEN_HEADER, self._token),) if self._token else None
        self._call = self._stub.SubscribeTopicEventsAlpha1(requests(), metadata=metadata)
        await self._call.read()  # the initial response: daprd has subscribed
        self._reader = asyncio.create_task(self._read(), name=f"stream {self.topic}")

    async def _read(self) -> None:
        assert self._call is not None
        try:
            while True:
                response = await self._call.read()
                if response is grpc.aio.EOF:
                    break
                event = response.event_message
                self._incoming.put_nowait(StreamMessage(event.id, event.topic or self.topic, event.data))
        except (grpc.aio.AioRpcError, asyncio.CancelledError) as exc:
            if not isinstance(exc, asyncio.CancelledError):
                logger.warning("stream of %s ended: %s", self.topic, exc.details())
        finally:
            self._incoming.put_nowait(None)

    async def batches(self, max_messages: int, max_await_s: float) -> AsyncIterator[list[StreamMessage]]:
        """Batches until the stream ends."""
        loop = asyncio.get_running_loop()
        while (first := await self._incoming.get()) is not None:
            batch = [first]
            deadline = loop.time() + max_await_s
            ended = False
            while len(batch) < max_messages:
                if self._incoming.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        message = await asyncio.wait_for(self._incoming.get(), remaining)
                    except TimeoutError:
                        break
                else:
                    message = self._incoming.get_nowait()
                if message is None:
                    ended = True
                    break
                batch.append(message)
            yield batch
            if ended:
                return

    def answer(self, statuses: Mapping[str, str]) -> None:
        for message_id, status in statuses.items():
            processed = api_v1.SubscribeTopicEventsRequestProcessedAlpha1(
                id=message_id, status=appcallback_v1.TopicEventResponse(status=_STATUS.Value(status))
            )
            self._outgoing.put_nowait(api_v1.SubscribeTopicEventsRequestAlpha1(event_processed=processed))

    async def close(self) -> None:
        self._outgoing.put_nowait(None)
        if self._call is not None:
            self._call.cancel()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


class DynamicSubscriptions:
    """Keeps one stream open per topic that `topics()` names, checking every `discover_every_s`: a topic that
    appears is subscribed within that time, a stream that fails (sidecar restart) is opened again at the next check.
    """

    def __init__(
        self,
        pubsub: str,
        topics: Callable[[], Awaitable[list[str]]],
        handle: BatchHandler,
        *,
        discover_every_s: float = 2.0,
        max_messages: int = 500,
        max_await_s: float = 0.0,
    ) -> None:
        self._pubsub = pubsub
        self._topics = topics
        self._handle = handle
        self._every = discover_every_s
        self._max_messages = max_messages
        self._max_await_s = max_await_s
        self._running: dict[str, asyncio.Task[None]] = {}
        self._ready: dict[str, asyncio.Event] = {}
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.Task[None] | None = None

    @property
    def subscribed(self) -> list[str]:
        return sorted(t for t, ready in self._ready.items() if ready.is_set() and t in self._running)

    async def start(self) -> None:
        port = dapr_settings.DAPR_GRPC_PORT
        self._channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        self._loop = asyncio.create_task(self._discover(), name="dynamic subscriptions")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._channel is not None:
            await self._channel.close()

    async def _discover(self) -> None:
        while True:
            try:
                for topic in await self._topics():
                    task = self._running.get(topic)
                    if task is None or task.done():
                        self._ready[topic] = asyncio.Event()
                        self._running[topic] = asyncio.create_task(self._consume(topic), name=f"consume {topic}")
            except Exception:
                logger.exception("listing the topics to subscribe failed; trying again")
            await asyncio.sleep(self._every)

    async def _consume(self, topic: str) -> None:
        assert self._channel is not None
        stream = TopicStream(DaprStub(self._channel), dapr_settings.DAPR_API_TOKEN, self._pubsub, topic)
        try:
            await stream.open()
            self._ready[topic].set()
            logger.info("subscribed to %s", topic)
            async for batch in stream.batches(self._max_messages, self._max_await_s):
                try:
                    statuses = await self._handle(topic, batch)
                except Exception:
                    logger.exception("handling %d messages of %s failed; asking for redelivery", len(batch), topic)
                    statuses = {m.message_id: "RETRY" for m in batch}
                stream.answer(statuses)
        except grpc.aio.AioRpcError as exc:
            logger.warning("subscribing to %s failed: %s", topic, exc.details())
        finally:
            self._ready[topic].clear()
            await stream.close()
