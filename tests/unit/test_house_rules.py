"""House rules that matter, run as tests (see ../shared/STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_domain_core_imports_neither_dapr_nor_fastapi() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & {"dapr", "fastapi"})
        for p in (ROOT / "lemo").rglob("*.py")
        if _imports(p) & {"dapr", "fastapi"}
    }
    assert offenders == {}


def test_every_app_folder_is_a_dapr_app_in_the_run_template() -> None:
    run = yaml.safe_load((ROOT / "dapr.yaml").read_text())
    app_ids = {a["appID"] for a in run["apps"]}
    folders = {p.parent.name for p in (ROOT / "apps").glob("*/main.py")}
    assert folders == app_ids


def test_app_mains_only_wire() -> None:
    for main in (ROOT / "apps").glob("*/main.py"):
        assert len(main.read_text().splitlines()) <= 80, f"{main} holds more than wiring"


def test_component_names_match_the_constants() -> None:
    from apps.shared import settings

    names = set()
    for f in (ROOT / "components").rglob("*.yaml"):
        doc = yaml.safe_load(f.read_text())
        if doc["kind"] == "Component":
            names.add(doc["metadata"]["name"])
    assert names == {
        settings.STATE_STORE,
        settings.PUBSUB,
        settings.CRON_POPULARITY,
        settings.CRON_TRAIN,
        settings.CRON_CLEANUP,
        settings.CRON_FEEDS,
    }


def _modules(path: Path) -> set[str]:
    """Full dotted names imported by `path` (absolute imports only)."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_no_app_imports_another() -> None:
    """Apps talk through their sidecars; code they share lives in apps/shared, the domain, actors or workflows."""
    offenders = {}
    for path in (ROOT / "apps").rglob("*.py"):
        own = path.relative_to(ROOT / "apps").parts[0]
        others = {
            name.split(".")[1]
            for name in _modules(path)
            if name.startswith("apps.") and name.count(".") >= 1 and name.split(".")[1] not in (own, "shared")
        }
        others &= {p.name for p in (ROOT / "apps").iterdir() if p.is_dir()}
        if others:
            offenders[str(path.relative_to(ROOT))] = sorted(others)
    assert offenders == {}


def test_the_domain_and_workflows_never_reach_into_an_app() -> None:
    """Data flows one way: apps use the domain, never the reverse (apps/shared included: it is plumbing)."""
    offenders = {
        str(p.relative_to(ROOT)): sorted(n for n in _modules(p) if n.startswith("apps"))
        for folder in ("lemo", "actors")
        for p in (ROOT / folder).rglob("*.py")
        if any(n.startswith("apps") for n in _modules(p))
    }
    assert offenders == {}


# Files already past the size STYLE.md asks to split before (400 lines); the list may only shrink (it is empty).
_LONG_FILES: set[str] = set()


def test_files_stay_small_enough_to_read_in_one_sitting() -> None:
    long = {
        str(p.relative_to(ROOT))
        for folder in ("lemo", "apps", "actors", "workflows")
        for p in (ROOT / folder).rglob("*.py")
        if len(p.read_text().splitlines()) > 400
    }
    assert long <= _LONG_FILES, f"split these by responsibility: {sorted(long - _LONG_FILES)}"


def test_domain_core_imports_neither_the_command_line_nor_the_client() -> None:
    """The domain is what the CLI and the client SDK stand on, never the other way round."""
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & {"lemo_cli", "lemo_client"})
        for p in (ROOT / "lemo").rglob("*.py")
        if _imports(p) & {"lemo_cli", "lemo_client"}
    }
    assert offenders == {}


def _module_graph() -> dict[str, set[str]]:
    """Every module of the project's packages -> the project modules it imports, at any depth in the file (an import
    inside a function still makes the cycle, only hidden until that function runs)."""
    modules: dict[str, Path] = {}
    for package in ("lemo", "apps", "actors", "workflows", "lemo_cli", "lemo_client"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from package import module` imports the module; `from module import name` the module itself.
                submodules = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
                targets |= submodules
                if len(submodules) < len(node.names) and node.module in modules:
                    targets.add(node.module)
        graph[name] = targets - {name}
    return graph


def test_no_import_cycles() -> None:
    """Modules import each other one way only (two modules that need each other are one room, or share a third)."""
    from graphlib import CycleError, TopologicalSorter

    try:
        tuple(TopologicalSorter(_module_graph()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


# An app builds its store adapters in its composition root only (STYLE.md: one place wires things together per app);
# every other module is typed against the ports (lemo/stores/ports.py) and receives the adapters as arguments.
_COMPOSITION_ROOTS = ("main.py", "bootstrap.py")
# App modules that still import from a store adapter module, and why; this may only shrink.
_ADAPTERS_PENDING: dict[str, str] = {}


def test_apps_name_store_adapters_only_in_their_composition_roots() -> None:
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "apps").rglob("*.py")
        if path.name not in _COMPOSITION_ROOTS
        and any(n.startswith("lemo.stores.") and not n.startswith("lemo.stores.ports") for n in _modules(path))
    )
    assert set(offenders) <= _ADAPTERS_PENDING.keys(), "type these against lemo.stores.ports; build adapters in main.py"
