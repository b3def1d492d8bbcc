"""The port through which the pipeline reaches the read path's stages. The one real adapter is Dapr service
invocation (apps/shared/stage_client.py); unit tests use a fake. An adapter raises `StageError` for anything that
is not a valid answer (unreachable, non-200, undecodable); deadlines are the pipeline's own."""

from __future__ import annotations

from typing import Protocol

from lemo.serving.contract import (
    RankRequest,
    RankResponse,
    RecallRequest,
    RecallResponse,
    RerankRequest,
    RerankResponse,
    UserContext,
)


class StageError(RuntimeError):
    """A stage gave no usable answer; the message says why (it becomes the degraded answer's reason)."""


class StageClient(Protocol):
    async def user_context(self, tenant_id: str, user_id: str) -> UserContext: ...

    async def recall(self, tenant_id: str, request: RecallRequest) -> RecallResponse: ...

    async def rank(self, tenant_id: str, request: RankRequest) -> RankResponse: ...

    async def rerank(self, tenant_id: str, request: RerankRequest) -> RerankResponse: ...

    async def stored_popular(self, tenant_id: str) -> list[tuple[str, float]]:
        """The popularity workflow's list for the tenant (empty when there is none yet)."""
        ...

    async def popular(self, tenant_id: str, k: int) -> list[tuple[str, float]]:
        """The recall app's popular list (hot items, else the popular model's)."""
        ...
