"""The workflow worker connects once the sidecar has seen the app healthy, not before.

Why: the sidecar registers the workflow actors as soon as a worker connects, and starts delivering the runs'
pending steps to it. When the app then turns healthy in the sidecar's eyes, the sidecar restarts its scheduler
streams, and every step it delivered in between is cancelled and retried. A cancelled workflow step whose answer
comes back after its retry was dispatched is the stuck-run trigger of dapr/dapr#9641 (apps/trainer/watchdog.py,
docs/training.md). Connecting after the first health probe leaves nothing in flight at that transition.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from dapr.ext.workflow import WorkflowRuntime
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"


class HealthProbes:
    """Pure ASGI middleware: sets `answered` once a GET of the health path has been answered."""

    def __init__(self, app: ASGIApp, answered: asyncio.Event) -> None:
        self._app = app
        self._answered = answered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH and not self._answered.is_set():
            self._answered.set()


def start_worker(
    runtime: WorkflowRuntime, answered: asyncio.Event, settle_s: float, give_up_s: float
) -> asyncio.Task[None]:
    """The worker's start in the background; a worker that cannot connect stops the app, as a failed startup did
    when the worker started inside the lifespan (a supervisor starts it again)."""
    task = asyncio.create_task(start_after_first_probe(runtime, answered, settle_s, give_up_s), name="workflow-worker")
    task.add_done_callback(_stop_app_on_failure)
    return task


def _stop_app_on_failure(task: asyncio.Task[None]) -> None:
    if task.cancelled() or task.exception() is None:
        return
    logger.error("the workflow worker did not start; stopping the app", exc_info=task.exception())
    os.kill(os.getpid(), signal.SIGTERM)


async def start_after_first_probe(
    runtime: WorkflowRuntime, answered: asyncio.Event, settle_s: float, give_up_s: float
) -> None:
    """Starts the worker `settle_s` after the first answered health probe (the sidecar acts on the probe's answer
    after the app has sent it), or after `give_up_s` without one (a sidecar without app health checks)."""
    try:
        await asyncio.wait_for(answered.wait(), give_up_s)
    except TimeoutError:
        logger.warning("no health probe in %.0f s; starting the workflow worker anyway", give_up_s)
    await asyncio.sleep(settle_s)
    await asyncio.to_thread(runtime.start)
    logger.info("workflow worker connected")
