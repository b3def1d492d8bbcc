"""The gateway's dependencies as typed aliases (what the lifespan in main.py builds, on app.state), for its routes
and its auth dependencies."""

from __future__ import annotations

from typing import Annotated

from dapr.aio.clients import DaprClient
from fastapi import Depends, Request

from apps.gateway.downstream import Downstream
from apps.gateway.keys import KeyResolver
from apps.gateway.service import PublicApi
from apps.gateway.settings import GatewaySettings
from apps.gateway.tenant_admin import TenantAdmin
from lemo.stores.mongo import TenantRepository


def _settings(request: Request) -> GatewaySettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _api(request: Request) -> PublicApi:
    return request.app.state.api  # type: ignore[no-any-return]


def _downstream(request: Request) -> Downstream:
    return request.app.state.downstream  # type: ignore[no-any-return]


def _tenants(request: Request) -> TenantRepository:
    return request.app.state.tenants  # type: ignore[no-any-return]


def _keys(request: Request) -> KeyResolver:
    return request.app.state.keys  # type: ignore[no-any-return]


def _tenant_admin(request: Request) -> TenantAdmin:
    return request.app.state.tenant_admin  # type: ignore[no-any-return]


def _dapr(request: Request) -> DaprClient:
    return request.app.state.dapr  # type: ignore[no-any-return]


SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
Api = Annotated[PublicApi, Depends(_api)]
DownstreamDep = Annotated[Downstream, Depends(_downstream)]
Tenants = Annotated[TenantRepository, Depends(_tenants)]
Keys = Annotated[KeyResolver, Depends(_keys)]
AdminOps = Annotated[TenantAdmin, Depends(_tenant_admin)]
Dapr = Annotated[DaprClient, Depends(_dapr)]
