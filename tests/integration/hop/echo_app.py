"""A Dapr app that does nothing but answer, to measure what one service-invocation hop costs (bench_hop.py).

`HOP_STACK=house` puts the middleware every app of the mesh carries in front of it (error handlers, observability,
the app token check), so the bench can tell the hop's own cost from the house's.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Request, Response

from apps.shared.errors import install_error_handlers
from apps.shared.observability import install_observability
from apps.shared.security import require_app_token

app = FastAPI()
if os.environ.get("HOP_STACK") == "house":
    install_error_handlers(app)
    install_observability(app)
    require_app_token(app)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.api_route("/echo", methods=["GET", "POST"])
async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/json")
