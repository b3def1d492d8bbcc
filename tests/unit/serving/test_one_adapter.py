"""The read path's layout, as a test: one adapter knows the stages' invocation URLs, and nothing above the domain
reaches the stages another way."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ADAPTER = ROOT / "apps" / "shared" / "stage_client.py"
CALLERS = [*(ROOT / "apps").rglob("*.py"), *(ROOT / "workflows").rglob("*.py")]


def _strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return out + ["".join(_literal_parts(n)) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr)]


def _literal_parts(node: ast.JoinedStr) -> list[str]:
    return [v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}" for v in node.values]


def test_only_the_adapter_spells_the_stage_invocation_paths() -> None:
    offenders = {}
    for path in CALLERS:
        if path == ADAPTER or path.parent.name in {"recall", "ranking", "rerank"}:
            continue
        found = [s for s in _strings(path) if s in {"rank"} or s.startswith(("recall/{}", "rerank/{}"))]
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}
    assert any(s.startswith("recall/{}") for s in _strings(ADAPTER))  # the rule looks for what the adapter uses


def test_workflows_reach_the_stages_only_through_the_serving_room() -> None:
    for path in (ROOT / "workflows").glob("recommend*.py"):
        imported = {
            node.module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert {m for m in imported if m.startswith("apps.")} <= {"apps.shared.sidecar", "apps.shared.stage_client"}
