"""Reading a workflow's state without tripping over the engine's transient read errors.

While a workflow is between steps, the runtime can answer a state read with UNKNOWN ("inbox key ... declared in
metadata but missing from state store (transient store read failure or partial save)") or UNAVAILABLE: the
read raced a save. Asking again a moment later gets the settled state, so callers that report a run's status
retry a few times (tenacity) instead of turning the race into a 500.
"""

from __future__ import annotations

from dapr.ext.workflow.aio import DaprWorkflowClient
from dapr.ext.workflow.workflow_state import WorkflowState
from grpc import StatusCode
from grpc.aio import AioRpcError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

TRANSIENT = (StatusCode.UNKNOWN, StatusCode.UNAVAILABLE, StatusCode.DEADLINE_EXCEEDED)
ATTEMPTS = 4


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, AioRpcError) and exc.code() in TRANSIENT


async def workflow_state(
    client: DaprWorkflowClient, instance_id: str, *, fetch_payloads: bool = True
) -> WorkflowState | None:
    """The instance's state (None when there is no such instance), retried over transient engine errors."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(_transient),
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential(multiplier=0.05, max=0.5),
        reraise=True,
    ):
        with attempt:
            return await client.get_workflow_state(instance_id, fetch_payloads=fetch_payloads)
    return None  # not reached: the last attempt returns or raises
