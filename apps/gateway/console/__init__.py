"""The operator console: a static single-page app the gateway serves at /console.

The page is plain HTML, CSS and JavaScript modules under static/, calling the public API from the browser (same
origin, the key the operator logs in with in X-API-Key, or the admin key with X-Admin-Key and X-Tenant-Id).
Its one third-party script, chart.js, is installed from package-lock.json by scripts/install-console.sh into
node_modules/ and served from /console/vendor/: nothing comes from another host at run time, which the page's
Content-Security-Policy enforces.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, status
from fastapi.responses import FileResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from apps.shared.errors import ApiError

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
CHART_JS = HERE / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"

# Scripts and styles from this origin only; images inline (chart.js draws on canvases).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)


@router.get("")
async def console_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})


@router.get("/")
async def console_slash() -> RedirectResponse:
    return RedirectResponse("/console", status_code=status.HTTP_308_PERMANENT_REDIRECT)


@router.get("/vendor/chart.js")
async def chart_library() -> FileResponse:
    if not CHART_JS.is_file():
        raise ApiError(
            status.HTTP_404_NOT_FOUND, "console_not_installed", "chart.js is missing: run scripts/install-console.sh"
        )
    return FileResponse(CHART_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


def install_console(app: FastAPI) -> None:
    """Adds the page, its chart library and its static files to the gateway."""
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
