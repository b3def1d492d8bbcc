"""The pub/sub components' publisher scopes (components/, k8s/components/): a tenant's publisher may write only
its own tenant's ingest topics and read none, and no platform app is ever restricted by them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lemo.ingest import IngestKind, topic_tenant

ROOT = Path(__file__).resolve().parents[2]
PUBSUBS = [
    ROOT / "components" / "pubsub-redis" / "pubsub.yaml",
    ROOT / "components" / "pubsub-kafka" / "pubsub.yaml",
    ROOT / "k8s" / "components" / "pubsub.yaml",
]


def _scopes(path: Path, name: str) -> dict[str, list[str]]:
    metadata = {m["name"]: m.get("value") for m in yaml.safe_load(path.read_text())["spec"]["metadata"]}
    scopes: dict[str, list[str]] = {}
    for entry in str(metadata.get(name) or "").split(";"):
        if entry.strip():
            app_id, _, topics = entry.partition("=")
            scopes[app_id.strip()] = [t.strip() for t in topics.split(",") if t.strip()]
    return scopes


@pytest.mark.parametrize("path", PUBSUBS, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_publisher_writes_only_its_own_tenants_ingest_topics_and_reads_none(path: Path) -> None:
    publishing = _scopes(path, "publishingScopes")
    assert publishing, "no publisher example"
    for app_id, topics in publishing.items():
        owners = [topic_tenant(t) for t in topics]
        ingest = [o for o in owners if o is not None]
        assert len(ingest) == len(owners), f"{app_id} may publish to a topic that is not an ingest topic: {topics}"
        assert len({tenant for tenant, _ in ingest}) == 1, f"{app_id} may publish for several tenants"
        assert {kind for _, kind in ingest} == set(IngestKind)
    assert _scopes(path, "subscriptionScopes") == {app_id: [] for app_id in publishing}


@pytest.mark.parametrize("path", PUBSUBS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_platform_app_is_scoped(path: Path) -> None:
    apps = {p.parent.name for p in (ROOT / "apps").glob("*/main.py")}
    listed = set(_scopes(path, "publishingScopes")) | set(_scopes(path, "subscriptionScopes"))
    assert not apps & listed
