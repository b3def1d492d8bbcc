"""The feed-refresh workflow's body, driven step by step (it does no I/O: each yield is a task for the runtime)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from workflows import feed_refresh
from workflows.feed_refresh import FeedBatch, refresh_feeds_workflow


class FakeContext:
    instance_id = "run-1"
    current_utc_datetime = datetime(2026, 12, 6, tzinfo=UTC)

    def __init__(self) -> None:
        self.timers: list[Any] = []

    def call_activity(self, name: str, *, input: Any, retry_policy: Any = None) -> Any:
        return input

    def create_timer(self, fire_at: Any) -> str:
        self.timers.append(fire_at)
        return "timer"


def _result(users: list[str], degraded: set[str]) -> dict[str, Any]:
    return {"saved": len(users), "degraded_users": [u for u in users if u in degraded], "scenario_not_found": False}


def test_degraded_feeds_get_one_more_pass_after_a_pause(monkeypatch: Any) -> None:
    monkeypatch.setattr(feed_refresh, "when_all", lambda tasks: tasks)
    ctx = FakeContext()
    users = [str(i) for i in range(25)]
    run = refresh_feeds_workflow(ctx, FeedBatch(tenant_id="t", user_ids=users, count=10, users_per_activity=10))  # type: ignore[arg-type]

    first = next(run)
    assert [c.user_ids for c in first] == [users[:10], users[10:20], users[20:]]
    assert run.send([_result(c.user_ids, {"3", "21"}) for c in first]) == "timer"
    assert ctx.timers == [feed_refresh.RETRY_DEGRADED_AFTER]
    second = run.send(None)
    assert [c.user_ids for c in second] == [["3", "21"]]
    try:
        run.send([_result(c.user_ids, {"21"}) for c in second])
    except StopIteration as done:
        assert done.value == {"users": 25, "saved": 25, "degraded": 1, "scenario_not_found": False, "retried": 2}
    else:
        raise AssertionError("the workflow did not end after the second pass")


def test_a_run_without_degraded_feeds_ends_after_one_pass(monkeypatch: Any) -> None:
    monkeypatch.setattr(feed_refresh, "when_all", lambda tasks: tasks)
    ctx = FakeContext()
    run = refresh_feeds_workflow(ctx, FeedBatch(tenant_id="t", user_ids=["1", "2"], count=10))  # type: ignore[arg-type]
    first = next(run)
    try:
        run.send([_result(c.user_ids, set()) for c in first])
    except StopIteration as done:
        assert done.value["degraded"] == 0 and done.value["retried"] == 0
    else:
        raise AssertionError("a run without degraded feeds waited")
    assert ctx.timers == []
