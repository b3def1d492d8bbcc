"""Every HTTP app's skeleton, written once: logging, the error envelope, metrics and trace ids, the app token,
/healthz, then the app's own routers, with a lifespan that builds the app's clients.

An app's main.py is its settings, its lifespan (the one place it builds clients and puts them on `app.state` for
its deps.py to hand out) and one `create_app` call; importing it touches no network and no store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager

from fastapi import APIRouter, FastAPI

from apps.shared.errors import install_error_handlers
from apps.shared.health import health_router
from apps.shared.logging import configure_logging
from apps.shared.observability import install_observability
from apps.shared.security import require_app_token
from apps.shared.settings import LemoSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    name: str,
    settings: LemoSettings,
    routers: Iterable[APIRouter],
    lifespan: Lifespan,
    *,
    title: str | None = None,
    version: str = "0.1.0",
    token_prefixes: tuple[str, ...] | None = None,
    edge: Callable[[FastAPI], None] | None = None,
) -> FastAPI:
    """The FastAPI app `name` (its Dapr app id) with the shared plumbing and `routers` mounted in order.

    Every path but /healthz and /metrics requires the app token (callers come through the sidecar), or, with
    `token_prefixes`, only the paths under them (the gateway, whose public API is called directly). `edge` adds
    the app's own middleware (the gateway's limits), inside the app token check and outside the metrics."""
    configure_logging(name, settings.log_level)
    app = FastAPI(title=title or f"lemo {name}", version=version, lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    install_observability(app)
    if edge is not None:
        edge(app)
    require_app_token(app, only_prefixes=token_prefixes)
    app.include_router(health_router(name))  # first, so no later route (DaprActor's own /healthz) shadows it
    for router in routers:
        app.include_router(router)
    return app
