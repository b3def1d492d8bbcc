"""The gateway's dependencies as typed aliases (what the lifespan in main.py builds, on app.state), for its routes
and its auth dependencies."""

from __future__ import annotations

from typing import Annotated

from dapr.aio.clients import DaprClient
from fastapi import Depends

from apps.gateway.downstream import Downstream
from apps.gateway.keys import KeyResolver
from apps.gateway.service import PublicApi
from apps.gateway.settings import GatewaySettings
from apps.gateway.tenant_admin import TenantAdmin
from apps.shared.deps import from_state
from lemo.stores.ports import TenantLookup

SettingsDep = Annotated[GatewaySettings, Depends(from_state("settings"))]
Api = Annotated[PublicApi, Depends(from_state("api"))]
DownstreamDep = Annotated[Downstream, Depends(from_state("downstream"))]
Tenants = Annotated[TenantLookup, Depends(from_state("tenants"))]
Keys = Annotated[KeyResolver, Depends(from_state("keys"))]
AdminOps = Annotated[TenantAdmin, Depends(from_state("tenant_admin"))]
Dapr = Annotated[DaprClient, Depends(from_state("dapr"))]
