"""Wire schemas of the rerank app: its one route takes and answers the rerank stage contract
(lemo/serving/contract.py), which the gateway and the recommend workflow share, so they are named here, not copied."""

from __future__ import annotations

from lemo.serving.contract import RerankRequest, RerankResponse

__all__ = ["RerankRequest", "RerankResponse"]
