"""Wire schemas of the ranking app: the stage contract (lemo.serving.contract) plus the tenant."""

from __future__ import annotations

from pydantic import Field

from lemo.serving.contract import RankRequest
from lemo.tenancy import TenantId


class RankCall(RankRequest):
    """The `rank` method's JSON body: a RankRequest with the tenant whose models score it."""

    tenant_id: TenantId = Field(description="the tenant whose active model versions score the candidates")
