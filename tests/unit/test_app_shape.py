"""House rules for the apps' shape, run as tests (../shared/STYLE.md, "Apps"): every app has the same roles, so the
layout teaches itself, and routes get what they need as typed dependencies from the app's deps.py."""

from __future__ import annotations

import ast
import importlib
import re
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = sorted(p.parent for p in (ROOT / "apps").glob("*/main.py"))
# The ranking app is a gRPC app (dapr-ext-grpc): invocable methods, no FastAPI routes, so nothing to inject.
NO_HTTP_ROUTES = {"ranking"}


def test_every_app_has_the_same_roles() -> None:
    missing = {}
    for app in APPS:
        roles = ["main.py", "settings.py", "schemas.py"]
        if app.name not in NO_HTTP_ROUTES:
            roles.append("deps.py")
        absent = [r for r in roles if not (app / r).exists()]
        if absent:
            missing[app.name] = absent
    assert missing == {}


def test_the_http_apps_are_built_by_the_shared_skeleton() -> None:
    """Logging, the error envelope, metrics, the app token and /healthz are wired once, in apps/shared/app.py."""
    hand_wired = [
        app.name
        for app in APPS
        if app.name not in NO_HTTP_ROUTES
        and ("create_app(" not in (text := (app / "main.py").read_text()) or "install_error_handlers" in text)
    ]
    assert hand_wired == []


def test_routes_take_their_dependencies_from_deps() -> None:
    """`request.app.state` is read in deps.py only (and set in main.py's lifespan), never in a route module."""
    offenders = sorted(
        str(p.relative_to(ROOT))
        for app in APPS
        for p in app.rglob("*.py")
        if p.name not in ("deps.py", "main.py") and "request.app.state" in p.read_text()
    )
    assert offenders == []


def _module_level_calls(path: Path) -> list[str]:
    """Names called by module-level statements (not inside a function or class body)."""
    tree = ast.parse(path.read_text())
    calls = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.If):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                calls.append(ast.unparse(sub.func))
    return calls


# What builds a client or touches a store: made in the lifespan (or, for ranking, in main()), never at import.
_CLIENT_MAKERS = re.compile(r"open_database|Repository|Archive|Registry|DaprClient|sidecar_http|build|Publisher")


def test_mains_build_no_client_at_import() -> None:
    offenders = {
        app.name: built
        for app in APPS
        if (built := [c for c in _module_level_calls(app / "main.py") if _CLIENT_MAKERS.search(c)])
    }
    assert offenders == {}


# Route modules still named otherwise, and why; this may only shrink.
_RENAME_PENDING: dict[str, str] = {}


def test_route_modules_are_named_for_their_url_prefix() -> None:
    """A router with a prefix lives in the module named for it (`/items` -> items.py), as in the FastAPI template."""
    misnamed = {}
    for app in APPS:
        for path in app.glob("*.py"):
            for prefix in re.findall(r'APIRouter\(prefix="/([^"]+)"', path.read_text()):
                segment = prefix.split("/")[-1] if prefix.startswith("v1/") else prefix.split("/")[0]
                if path.stem != segment.replace("-", "_"):
                    misnamed[str(path.relative_to(ROOT))] = prefix
    assert misnamed == _RENAME_PENDING


# Route dependencies that are still a store rather than a service, and why; this may only shrink.
_STORE_DEPS_PENDING: set[str] = set()


def _is_store(kind: object) -> bool:
    module = getattr(kind, "__module__", "") or ""
    return module.startswith(("lemo.stores", "pymongo")) or "Repository" in getattr(kind, "__name__", "")


def test_routes_delegate_to_services_not_stores() -> None:
    """A route translates and delegates (STYLE.md): what it gets from deps.py is a service, never a repository."""
    offenders = set()
    for app in APPS:
        for path in app.glob("*.py"):
            if "APIRouter(" not in path.read_text():
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module == f"apps.{app.name}.deps":
                    deps = importlib.import_module(node.module)
                    for alias in node.names:
                        kind = typing.get_args(getattr(deps, alias.name))[0]
                        if _is_store(typing.get_origin(kind) or kind):
                            offenders.add(f"{node.module}.{alias.name}")
    assert offenders == _STORE_DEPS_PENDING
