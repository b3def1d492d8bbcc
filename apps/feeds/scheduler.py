"""Starting recommend workflows and cleaning up after them.

A `mode=workflow` request is one recommend workflow; refreshes on events and the warm-up are feed-refresh runs of many
users each. An instance's history is worth nothing once the feed is saved, so finished instances
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
from pydantic import BaseModel

from apps.shared.workflow_state import workflow_state
from workflows.feed_refresh import FEED_REFRESH_WORKFLOW, FeedBatch
from workflows.recommend import RECOMMEND_WORKFLOW, RecommendRequest

logger = logging.getLogger(__name__)

_TERMINAL = {WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.TERMINATED}
# Feed-refresh runs whose outcome is remembered after their instance is purged.
_RUNS_KEPT = 1000
# Dapr takes letters, digits, '-' and '_' in an instance id, at most 64 of them.
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _part(value: str, n: int) -> str:
    return _UNSAFE.sub("_", value)[:n]


def instance_id_for(request: RecommendRequest) -> str:
    """Readable (tenant, scenario, user) plus a short uuid: unique per run, at most 64 characters."""
    parts = ("feed", _part(request.tenant_id, 16), _part(request.scenario_id, 12), _part(request.user_id, 16))
    return "-".join(parts) + f"-{uuid.uuid4().hex[:8]}"


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


def batch_instance_id(batch: FeedBatch) -> str:
    """Readable (tenant, scenario, users in the batch) plus a short uuid: unique per run, at most 64 characters."""
    tenant, scenario = _part(batch.tenant_id, 16), _part(batch.scenario_id, 12)
    return f"feeds-{tenant}-{scenario}-{len(batch.user_ids)}u-{uuid.uuid4().hex[:8]}"


class FeedScheduler:
    def __init__(self, client: DaprWorkflowClient, purge_interval_s: float) -> None:
        self._client = client
        self._purge_interval_s = purge_interval_s
        self._started: OrderedDict[str, float] = OrderedDict()  # instance id -> when it was scheduled to start
        # Feed-refresh runs: their tenant, and once purged, how they ended (`GET /refresh/...` answers from it).
        self._tenant_of: OrderedDict[str, str] = OrderedDict()
        self._ended: dict[str, dict[str, Any]] = {}

    async def _schedule(self, workflow: str, payload: BaseModel, instance_id: str, delay_s: float) -> str:
        """Schedules `workflow` (in `delay_s` seconds) and remembers it for purging."""
        start_at = datetime.now(UTC) + timedelta(seconds=delay_s) if delay_s > 0 else None
        instance_id = await self._client.schedule_new_workflow(
            workflow, input=payload.model_dump(mode="json"), instance_id=instance_id, start_at=start_at
        )
        self._started[instance_id] = time.monotonic() + delay_s
        return instance_id

    async def start(self, request: RecommendRequest, delay_s: float = 0.0) -> str:
        return await self._schedule(RECOMMEND_WORKFLOW, request, instance_id_for(request), delay_s)

    async def start_batch(self, batch: FeedBatch, delay_s: float = 0.0) -> str:
        """Starts one feed-refresh run for the batch's users (in `delay_s` seconds)."""
        instance_id = await self._schedule(FEED_REFRESH_WORKFLOW, batch, batch_instance_id(batch), delay_s)
        self._tenant_of[instance_id] = batch.tenant_id
        while len(self._tenant_of) > _RUNS_KEPT:
            self._ended.pop(self._tenant_of.popitem(last=False)[0], None)
        return instance_id

    async def batch_status(self, tenant_id: str, instance_id: str) -> dict[str, Any] | None:
        """A feed-refresh run of this tenant started by this process: its status and, once done, its counts
        (users, saved, degraded); None for another tenant's run or one this process does not know."""
        if self._tenant_of.get(instance_id) != tenant_id:
            return None
        if instance_id in self._ended:
            return self._ended[instance_id]
        state = await workflow_state(self._client, instance_id, fetch_payloads=True)
        return _run_status(instance_id, state)

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
                    if instance_id in self._tenant_of:
                        self._ended[instance_id] = _run_status(instance_id, state)
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


def _run_status(instance_id: str, state: Any) -> dict[str, Any]:
    if state is None:
        return {"run_id": instance_id, "status": "UNKNOWN"}
    answer: dict[str, Any] = {"run_id": instance_id, "status": state.runtime_status.name}
    if state.runtime_status == WorkflowStatus.COMPLETED and state.serialized_output:
        answer.update(json.loads(state.serialized_output))
    elif state.failure_details:
        answer["failure"] = state.failure_details.message
    return answer
