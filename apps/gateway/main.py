"""gateway: the public front door (HTTP on 127.0.0.1:8080 by default): tenants, auth, the public API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dapr.aio.clients import DaprClient
from fastapi import FastAPI

from apps.gateway.auth import KeyResolver
from apps.gateway.console import install_console
from apps.gateway.downstream import Downstream
from apps.gateway.grpc_api import start_grpc
from apps.gateway.limits import install_limits
from apps.gateway.recommend import build_recommender
from apps.gateway.routers import ROUTERS
from apps.gateway.settings import GatewaySettings
from apps.shared.errors import install_error_handlers
from apps.shared.health import health_router
from apps.shared.logging import configure_logging
from apps.shared.observability import install_observability
from apps.shared.security import SIDECAR_CALLBACK_PREFIXES, require_app_token
from apps.shared.sidecar import sidecar_http
from apps.shared.tuning import ready_to_serve
from lemo.stores.mongo import ScenarioRepository, TenantRepository, open_database

settings = GatewaySettings()
configure_logging("gateway", settings.log_level)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings = settings
    db = open_database(settings.mongodb_uri, settings.mongodb_database)
    app.state.tenants = TenantRepository(db)
    await app.state.tenants.ensure_indexes()
    app.state.scenario_repo = ScenarioRepository(db)
    app.state.keys = KeyResolver(app.state.tenants, settings.key_cache_ttl_s)
    async with DaprClient() as client, sidecar_http(settings.downstream_timeout_s) as http:
        app.state.dapr = client
        app.state.downstream = Downstream(http)
        app.state.recommender = build_recommender(settings, db, http, app.state.downstream)
        app.state.scenarios = app.state.recommender.book
        grpc_server = await start_grpc(
            app.state.keys, app.state.downstream, settings, app.state.recommender, rate_limits, app.state.scenario_repo
        )
        ready_to_serve()  # apps/shared/tuning.py: GC and math threads
        yield
        await grpc_server.stop(grace=2)
        await app.state.recommender.exposures.close()


app = FastAPI(title="Lemo Recommender", version="0.1.0", lifespan=lifespan)
install_error_handlers(app)
install_observability(app)
rate_limits = install_limits(app, settings)
# The public API is called directly (tenant keys); only the paths daprd calls need the app token.
require_app_token(app, only_prefixes=SIDECAR_CALLBACK_PREFIXES)
app.include_router(health_router("gateway"))
for router in ROUTERS:
    app.include_router(router)
install_console(app)
