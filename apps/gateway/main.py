"""gateway: the public front door (HTTP on 127.0.0.1:8080 by default, gRPC on 50051): tenants, auth, the public
API. Both transports call the same operations (apps/gateway/service.py), built here once in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr.aio.clients import DaprClient
from fastapi import FastAPI

from apps.gateway.console import install_console
from apps.gateway.downstream import Downstream
from apps.gateway.grpc_api import start_grpc
from apps.gateway.keys import KeyResolver
from apps.gateway.limits import install_limits
from apps.gateway.recommender import build_recommender
from apps.gateway.routers import ROUTERS
from apps.gateway.service import PublicApi
from apps.gateway.settings import GatewaySettings
from apps.gateway.tenant_admin import TenantAdmin
from apps.shared.app import create_app
from apps.shared.security import SIDECAR_CALLBACK_PREFIXES
from apps.shared.sidecar import sidecar_http
from apps.shared.tuning import ready_to_serve
from lemo.stores.mongo import ScenarioRepository, TenantRepository, open_database

settings = GatewaySettings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    tenants = TenantRepository(db)
    await tenants.ensure_indexes()
    app.state.tenants = tenants
    app.state.tenant_admin = TenantAdmin(tenants)
    app.state.keys = KeyResolver(tenants, settings.key_cache_ttl_s)
    scenarios = ScenarioRepository(db)
    async with DaprClient() as client, sidecar_http(settings.downstream_timeout_s) as http:
        app.state.dapr = client
        app.state.downstream = down = Downstream(http)
        recommender = build_recommender(settings, scenarios, http, down)
        app.state.api = api = PublicApi(down, settings, recommender, scenarios)
        grpc_server = await start_grpc(app.state.keys, api, settings, app.state.rate_limits)
        ready_to_serve()  # apps/shared/tuning.py: GC and math threads
        yield
        await grpc_server.stop(grace=2)
        await recommender.exposures.close()


def _edge(app: FastAPI) -> None:
    """The body-size cap and per-key rate limit, shared with the gRPC API."""
    app.state.rate_limits = install_limits(app, settings)


# The public API is called directly (tenant keys); only the paths daprd calls need the app token.
app = create_app(
    "gateway",
    settings,
    ROUTERS,
    lifespan,
    title="Lemo Recommender",
    token_prefixes=SIDECAR_CALLBACK_PREFIXES,
    edge=_edge,
)
install_console(app)
