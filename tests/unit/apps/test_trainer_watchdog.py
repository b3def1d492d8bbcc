"""The training-run watchdog (apps/trainer/watchdog.py): a run whose progress stands still is nudged, with a
doubling wait; a run that moves, finishes or vanishes is not; the ledger keeps entries under concurrent writers."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, cast

from dapr.ext.workflow import WorkflowStatus

from apps.shared.sidecar import ConcurrencyConflict
from apps.trainer.watchdog import NUDGE_EVENT, RunWatchdog, StallPolicy, StateLedger


@dataclass
class _State:
    runtime_status: WorkflowStatus
    serialized_custom_status: str | None


class _Workflows:
    """The two calls of DaprWorkflowClient the watchdog makes."""

    def __init__(self) -> None:
        self.states: dict[str, _State] = {}
        self.raised: list[tuple[str, str]] = []

    async def get_workflow_state(self, instance_id: str, *, fetch_payloads: bool = True) -> _State | None:
        return self.states.get(instance_id)

    async def raise_workflow_event(self, instance_id: str, event_name: str, *, data: Any = None) -> None:
        self.raised.append((instance_id, event_name))


class _Ledger:
    def __init__(self, runs: dict[str, float]) -> None:
        self.runs = {run_id: {"tenant_id": "t1", "started_at": at} for run_id, at in runs.items()}

    async def add(self, run_id: str, tenant_id: str) -> None:
        self.runs[run_id] = {"tenant_id": tenant_id, "started_at": 0.0}

    async def remove(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            self.runs.pop(run_id, None)

    async def open_runs(self) -> dict[str, dict[str, Any]]:
        return dict(self.runs)


def _progress(done: int) -> str:
    return json.dumps({"step": "train", "done": done, "total": 17})


def _watchdog(
    workflows: _Workflows, ledger: _Ledger, nudge_after_s: float = 30, max_wait_s: float = 120
) -> RunWatchdog:
    return RunWatchdog(cast(Any, workflows), ledger, StallPolicy(nudge_after_s, max_wait_s), interval_s=5)


def test_a_still_run_is_nudged_after_the_wait_then_with_a_doubling_wait_up_to_the_cap() -> None:
    workflows, ledger = _Workflows(), _Ledger({"r1": 0.0})
    workflows.states["r1"] = _State(WorkflowStatus.RUNNING, _progress(3))
    watchdog = _watchdog(workflows, ledger)

    nudged_at = [t for t in range(0, 600, 5) if asyncio.run(watchdog.check(now=float(t)))]
    # first sight at 0 (a restart counts as a change), then 30 s still; the waits double: 60, 120, 120 (the cap)
    assert nudged_at == [30, 90, 210, 330, 450, 570]
    assert set(workflows.raised) == {("r1", NUDGE_EVENT)}


def test_progress_resets_the_wait() -> None:
    workflows, ledger = _Workflows(), _Ledger({"r1": 0.0})
    workflows.states["r1"] = _State(WorkflowStatus.RUNNING, _progress(3))
    watchdog = _watchdog(workflows, ledger)
    assert asyncio.run(watchdog.check(now=0.0)) == []
    assert asyncio.run(watchdog.check(now=30.0)) == ["r1"]
    workflows.states["r1"] = _State(WorkflowStatus.RUNNING, _progress(4))
    assert asyncio.run(watchdog.check(now=35.0)) == []  # moved: a fresh 30 s wait from here
    assert asyncio.run(watchdog.check(now=60.0)) == []
    assert asyncio.run(watchdog.check(now=65.0)) == ["r1"]


def test_finished_runs_and_runs_long_gone_leave_the_ledger_unnudged() -> None:
    workflows, ledger = _Workflows(), _Ledger({"done": 0.0, "failed": 0.0, "gone": 0.0, "unborn": 100.0})
    workflows.states["done"] = _State(WorkflowStatus.COMPLETED, _progress(17))
    workflows.states["failed"] = _State(WorkflowStatus.FAILED, _progress(5))
    watchdog = _watchdog(workflows, ledger)
    assert asyncio.run(watchdog.check(now=120.0)) == []
    # "unborn" was written 20 s ago, just before its run is scheduled: not found yet is no reason to drop it
    assert set(ledger.runs) == {"unborn"}
    assert asyncio.run(watchdog.check(now=200.0)) == []
    assert ledger.runs == {}
    assert workflows.raised == []


def test_suspended_runs_wait_for_an_operator() -> None:
    workflows, ledger = _Workflows(), _Ledger({"r1": 0.0})
    workflows.states["r1"] = _State(WorkflowStatus.SUSPENDED, _progress(3))
    watchdog = _watchdog(workflows, ledger)
    assert [asyncio.run(watchdog.check(now=float(t))) for t in (0, 60, 600)] == [[], [], []]
    assert set(ledger.runs) == {"r1"}


class _State409:
    """A SidecarState with etags: a write with a stale etag conflicts; `interfere` writes between read and save."""

    def __init__(self) -> None:
        self.value: Any = None
        self.version = 0
        self.interfere: list[dict[str, Any]] = []

    async def get(self, key: str) -> tuple[Any, str | None]:
        return (self.value, str(self.version)) if self.value is not None else (None, None)

    async def save(self, key: str, value: Any, etag: str | None = None, ttl_s: int | None = None) -> None:
        if self.interfere:
            self.value, self.version = {**(self.value or {}), **self.interfere.pop(0)}, self.version + 1
        if etag is not None and etag != str(self.version):
            raise ConcurrencyConflict(key)
        self.value, self.version = value, self.version + 1


def test_the_ledger_keeps_an_entry_another_writer_added_meanwhile() -> None:
    state = _State409()
    ledger = StateLedger(cast(Any, state), "trainer")
    asyncio.run(ledger.add("r1", "t1"))
    state.interfere.append({"r2": {"tenant_id": "t2", "started_at": 1.0}})
    asyncio.run(ledger.add("r3", "t1"))  # the first save conflicts with r2's write; the retry keeps both
    assert set(asyncio.run(ledger.open_runs())) == {"r1", "r2", "r3"}
    asyncio.run(ledger.remove(["r1", "r2"]))
    assert set(asyncio.run(ledger.open_runs())) == {"r3"}
