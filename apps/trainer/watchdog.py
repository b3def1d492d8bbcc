"""The training-run watchdog: a run that stops moving after a crash is nudged until it moves again.

Why: when the trainer dies, the Dapr runtime (1.18) can answer a workflow step it dispatched before the crash into
the step it dispatches after it (its pending-task table is keyed by instance id alone: dapr/dapr#9641). The later
step then records the activity results it carried without the actions they lead to; no further event comes, and the
run stays RUNNING for good. docs/training.md has the log lines and the numbers.

What: every run the trainer starts is written to a ledger in the state store (one key per app); a loop reads the
ledger and each run's state. A run whose custom status (the workflow's progress) has not changed for
`stall_nudge_s` gets a `lemo.nudge` event: the runtime then replays the workflow over its whole history, and the
replay issues whatever the lost step should have. The train workflow waits for no event, so on a run that was
merely busy (one long training step) a nudge costs one replay and changes nothing; the wait before the next nudge
doubles up to `stall_nudge_max_s`. Terminal or vanished runs leave the ledger.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from dapr.ext.workflow import WorkflowStatus
from dapr.ext.workflow.aio import DaprWorkflowClient

from apps.shared.sidecar import ConcurrencyConflict, SidecarState
from apps.shared.workflow_state import workflow_state
from apps.trainer.settings import TrainerSettings

logger = logging.getLogger(__name__)

LEDGER_KEY = "trainer:open-runs"  # then ":<app id>": workflow instances belong to one app id
NUDGE_EVENT = "lemo.nudge"
_FINISHED = {WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.TERMINATED}
# Only a run the runtime means to move can be stuck; a suspended (or stalled) one waits for an operator.
_MOVING = {WorkflowStatus.RUNNING, WorkflowStatus.PENDING}
_LEDGER_ATTEMPTS = 8
# A ledger entry is written just before its run is scheduled; until this old, a run not found is one about to exist.
_UNBORN_GRACE_S = 60.0


class RunLedger(Protocol):
    """The runs the trainer started and has not yet seen finish."""

    async def add(self, run_id: str, tenant_id: str) -> None: ...

    async def remove(self, run_ids: list[str]) -> None: ...

    async def open_runs(self) -> dict[str, dict[str, Any]]: ...


class StateLedger:
    """A RunLedger in one state-store key per app id ({run_id: {tenant_id, started_at}}), written with its etag so
    that two replicas (or a run start racing the watchdog) never drop each other's entries."""

    def __init__(self, state: SidecarState, app_id: str) -> None:
        self._state = state
        self._key = ledger_key(app_id)

    async def add(self, run_id: str, tenant_id: str) -> None:
        entry = {"tenant_id": tenant_id, "started_at": time.time()}
        await self._update(lambda runs: {**runs, run_id: entry}, lambda runs: run_id in runs)

    async def remove(self, run_ids: list[str]) -> None:
        gone = set(run_ids)
        await self._update(
            lambda runs: {k: v for k, v in runs.items() if k not in gone}, lambda runs: not gone & set(runs)
        )

    async def open_runs(self) -> dict[str, dict[str, Any]]:
        runs, _ = await self._state.get(self._key)
        return dict(runs or {})

    async def _update(
        self,
        change: Callable[[dict[str, Any]], dict[str, Any]],
        applied: Callable[[dict[str, Any]], bool],
    ) -> None:
        for _ in range(_LEDGER_ATTEMPTS):
            runs, etag = await self._state.get(self._key)
            if applied(runs or {}) and etag is not None:
                return
            try:
                # The first write has no etag to carry; reading it back below tells whether a racing writer won.
                await self._state.save(self._key, change(runs or {}), etag=etag)
            except ConcurrencyConflict:
                continue
            if etag is not None:
                return
        raise ConcurrencyConflict(self._key)


def ledger_key(app_id: str) -> str:
    return f"{LEDGER_KEY}:{app_id}"


@dataclass
class _Watch:
    """What the watchdog last saw of one run."""

    progress: str | None
    changed_at: float  # when this progress was first seen
    wait_s: float  # the stillness that earns the next nudge
    next_nudge_at: float
    nudges: int = 0


@dataclass
class StallPolicy:
    """When a run without progress gets nudged (no I/O and no clock of its own: tests drive it)."""

    nudge_after_s: float
    max_wait_s: float
    watches: dict[str, _Watch] = field(default_factory=dict)

    def observe(self, run_id: str, progress: str | None, now: float) -> bool:
        """Records the run's progress; True when it has stood still long enough to be nudged now. The first sight
        of a run (a trainer that just started) counts as a change: a restart gets the full wait before a nudge."""
        watch = self.watches.get(run_id)
        if watch is None or watch.progress != progress:
            self.watches[run_id] = _Watch(progress, now, self.nudge_after_s, now + self.nudge_after_s)
            return False
        if now < watch.next_nudge_at:
            return False
        watch.nudges += 1
        watch.wait_s = min(watch.wait_s * 2, self.max_wait_s)
        watch.next_nudge_at = now + watch.wait_s
        return True

    def still_for(self, run_id: str, now: float) -> float:
        watch = self.watches.get(run_id)
        return now - watch.changed_at if watch is not None else 0.0

    def forget(self, run_id: str) -> None:
        self.watches.pop(run_id, None)


class RunWatchdog:
    def __init__(
        self, workflows: DaprWorkflowClient, ledger: RunLedger, policy: StallPolicy, interval_s: float
    ) -> None:
        self._workflows = workflows
        self._ledger = ledger
        self._policy = policy
        self._interval_s = interval_s

    async def check(self, now: float | None = None) -> list[str]:
        """One pass over the ledger; answers the runs it nudged."""
        now = time.time() if now is None else now
        finished: list[str] = []
        nudged: list[str] = []
        for run_id, entry in (await self._ledger.open_runs()).items():
            state = await workflow_state(self._workflows, run_id)
            if state is None and now - float(entry.get("started_at", 0.0)) < _UNBORN_GRACE_S:
                continue
            if state is None or state.runtime_status in _FINISHED:
                finished.append(run_id)
                self._policy.forget(run_id)
                continue
            if state.runtime_status not in _MOVING:
                self._policy.forget(run_id)
                continue
            if self._policy.observe(run_id, state.serialized_custom_status, now):
                await self._workflows.raise_workflow_event(run_id, NUDGE_EVENT, data={"at": now})
                nudged.append(run_id)
                logger.warning(
                    "training run %s made no progress for %.0f s (%s); nudged it to replay its history",
                    run_id,
                    self._policy.still_for(run_id, now),
                    _step(state.serialized_custom_status),
                )
        if finished:
            await self._ledger.remove(finished)
        return nudged

    async def run(self) -> None:
        """Checks every `interval_s` until cancelled; a failed pass (the sidecar restarting) waits for the next."""
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.check()
            except Exception:
                logger.warning("training-run watchdog pass failed", exc_info=True)


@asynccontextmanager
async def watching_runs(
    workflows: DaprWorkflowClient, ledger: RunLedger, settings: TrainerSettings
) -> AsyncIterator[RunWatchdog | None]:
    """The watchdog running in the background for as long as the app is (none when its interval is 0)."""
    if settings.watchdog_interval_s <= 0:
        yield None
        return
    policy = StallPolicy(settings.stall_nudge_s, settings.stall_nudge_max_s)
    watchdog = RunWatchdog(workflows, ledger, policy, settings.watchdog_interval_s)
    task = asyncio.create_task(watchdog.run(), name="training-run-watchdog")
    try:
        yield watchdog
    finally:
        task.cancel()


def _step(custom_status: str | None) -> str:
    try:
        progress = json.loads(custom_status or "null")
    except ValueError:
        progress = None
    if not isinstance(progress, dict) or "step" not in progress:
        return "no progress reported yet"
    return f"step {progress['step']}, {progress.get('done')}/{progress.get('total')} done"
