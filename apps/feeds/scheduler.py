"""Starting recommend workflows and cleaning up after them.

Every refresh is one workflow instance; its history is worth nothing once the feed is saved, so finished instances
are purged (they would otherwise pile up in the state store at the rate events arrive). The debouncer keeps a
chatty user to one refresh per window.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dapr.ext.workflow import WorkflowStatus
from dapr.ext.workflow.aio import DaprWorkflowClient

from apps.shared.workflow_state import workflow_state
from workflows.recommend import RECOMMEND_WORKFLOW, RecommendRequest

logger = logging.getLogger(__name__)

_TERMINAL = {WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.TERMINATED}
# Dapr takes letters, digits, '-' and '_' in an instance id, at most 64 of them.
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def instance_id_for(request: RecommendRequest) -> str:
    """Readable (tenant, scenario, user) plus a short uuid: unique per run, at most 64 characters."""

    def part(value: str, n: int) -> str:
        return _UNSAFE.sub("_", value)[:n]

    return (
        "-".join(("feed", part(request.tenant_id, 16), part(request.scenario_id, 12), part(request.user_id, 16)))
        + f"-{uuid.uuid4().hex[:8]}"
    )


class Debouncer:
    """At most one refresh per key per `window_s`: the first event refreshes at once; events inside the window are
    folded into one refresh at the window's end (so the last event is never lost); events while that one is
    pending need nothing more. In-process: one feeds replica (as deployed) sees every user."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._window_s = window_s
        self._clock = clock
        self._max_keys = max_keys
        self._last: OrderedDict[tuple[str, ...], float] = OrderedDict()  # key -> when its latest refresh runs

    def delay(self, key: tuple[str, ...]) -> float | None:
        """Seconds until this key's refresh should run (0: now), or None when one already pending covers it."""
        now = self._clock()
        last = self._last.get(key)
        if last is None or now >= last + self._window_s:
            at = now
        elif last > now:
            return None
        else:
            at = last + self._window_s
        self._last[key] = at
        self._last.move_to_end(key)
        while len(self._last) > self._max_keys:
            self._last.popitem(last=False)
        return at - now


class FeedScheduler:
    def __init__(self, client: DaprWorkflowClient, purge_interval_s: float) -> None:
        self._client = client
        self._purge_interval_s = purge_interval_s
        self._started: OrderedDict[str, float] = OrderedDict()  # instance id -> when it was scheduled to start

    async def start(self, request: RecommendRequest, delay_s: float = 0.0) -> str:
        start_at = datetime.now(UTC) + timedelta(seconds=delay_s) if delay_s > 0 else None
        instance_id = await self._client.schedule_new_workflow(
            RECOMMEND_WORKFLOW,
            input=request.model_dump(mode="json"),
            instance_id=instance_id_for(request),
            start_at=start_at,
        )
        self._started[instance_id] = time.monotonic() + delay_s
        return instance_id

    async def run(self, request: RecommendRequest, timeout_s: float) -> tuple[str, dict[str, Any] | None, str | None]:
        """Starts the workflow and waits for it: (instance id, output, failure message). TimeoutError past
        `timeout_s` (the run goes on and stores the feed)."""
        instance_id = await self.start(request)
        async with asyncio.timeout(timeout_s):
            state = await self._client.wait_for_workflow_completion(
                instance_id, fetch_payloads=True, timeout_in_seconds=max(1, int(timeout_s + 1))
            )
        if state is None:
            return instance_id, None, "the workflow instance vanished"
        if state.runtime_status != WorkflowStatus.COMPLETED:
            failure = state.failure_details.message if state.failure_details else state.runtime_status.name
            return instance_id, None, failure
        output = state.serialized_output
        return instance_id, json.loads(output) if output else None, None

    async def purge_finished(self) -> int:
        """Purges the instances this process started that have finished; returns how many."""
        purged = 0
        now = time.monotonic()
        for instance_id, start_at in list(self._started.items()):
            if start_at > now:
                continue  # a debounced refresh that has not started yet
            try:
                state = await workflow_state(self._client, instance_id, fetch_payloads=False)
                if state is not None and state.runtime_status not in _TERMINAL:
                    if now - start_at < 3600:
                        continue
                    logger.warning("workflow %s still %s after an hour", instance_id, state.runtime_status.name)
                if state is not None and state.runtime_status == WorkflowStatus.FAILED:
                    failure = state.failure_details.message if state.failure_details else "no details"
                    logger.warning("workflow %s failed: %s", instance_id, failure)
                if state is not None:
                    await self._client.purge_workflow(instance_id)
                    purged += 1
            except Exception:
                logger.warning("could not purge workflow %s", instance_id, exc_info=True)
                continue
            self._started.pop(instance_id, None)
        return purged

    async def purge_forever(self) -> None:
        while True:
            await asyncio.sleep(self._purge_interval_s)
            try:
                await self.purge_finished()
            except Exception:
                logger.exception("purging finished workflows failed")
