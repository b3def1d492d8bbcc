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
