"""apps/rerank/stage.py over fakes of the catalog and registry: metadata reaches the rules, unavailable and unknown
items are handled as documented, and `mmr by=embedding` uses the tenant's content vectors once loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from apps.rerank.embeddings import EmbeddingSource
from apps.rerank.metadata import MetadataCache
from apps.rerank.stage import RerankStage
from lemo.artifacts import ArtifactStore
from lemo.models.text import ContentRecall
from lemo.registry import ModelStatus, ModelVersion
from lemo.serving.contract import RerankRequest
from tests.unit.apps.test_rerank_metadata import FakeCatalog


class FakeRegistry:
    def __init__(self, versions: dict[str, ModelVersion]) -> None:
        self.versions = versions

    async def active(self, tenant_id: str, kind: str) -> ModelVersion | None:
        return self.versions.get(kind) if tenant_id == "t1" else None


def stage(tmp_path: Path, drop_unknown: bool = False) -> tuple[RerankStage, EmbeddingSource]:
    artifact = tmp_path / "t1" / "models" / "content" / "r1"
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)  # a and b alike, c apart
    ContentRecall(["a", "b", "c"], {}, vectors).save(artifact)
    content = ModelVersion(
        tenant_id="t1",
        kind="content",
        version=1,
        run_id="r1",
        status=ModelStatus.ACTIVE,
        artifact_uri=artifact.as_uri(),
        created_at=0.0,
    )
    catalog = FakeCatalog({("t1", i): {"categories": ["x"]} for i in "abc"} | {("t1", "h"): {"hidden": True}})
    embeddings = EmbeddingSource(FakeRegistry({"content": content}), ArtifactStore(str(tmp_path)), ["content"], 60.0)
    return RerankStage(MetadataCache(catalog, 30.0, 100), embeddings, drop_unknown), embeddings


def request(rules: list[dict[str, Any]], *item_ids: str) -> RerankRequest:
    candidates = {"item_ids": list(item_ids), "scores": [1.0 - 0.01 * n for n in range(len(item_ids))]}
    return RerankRequest.model_validate({"user_id": "u", "count": 3, "rules": rules, "candidates": candidates})


async def test_mmr_by_embedding_uses_the_content_vectors_once_loaded(tmp_path: Path) -> None:
    rerank, embeddings = stage(tmp_path)
    mmr = [{"type": "mmr", "lambda": 0.5, "by": "embedding"}]
    before = await rerank.rerank("t1", request(mmr, "a", "b", "c"))
    assert before.items.item_ids == ["a", "b", "c"]  # not loaded yet: categories, all alike
    assert await embeddings.wait_loaded("t1") is not None
    after = await rerank.rerank("t1", request(mmr, "a", "b", "c"))
    assert after.items.item_ids == ["a", "c", "b"]


async def test_unavailable_items_go_first_and_unknown_ones_follow_the_setting(tmp_path: Path) -> None:
    keep, _ = stage(tmp_path)
    result = await keep.rerank("t1", request([], "h", "a", "zz"))
    assert result.items.item_ids == ["a", "zz"]
    assert [(e.rule, e.removed) for e in result.effects] == [("available", ["h"])]
    drop, _ = stage(tmp_path / "drop", drop_unknown=True)
    result = await drop.rerank("t1", request([], "h", "a", "zz"))
    assert result.items.item_ids == ["a"]
    assert [(e.rule, e.removed) for e in result.effects] == [("available", ["h", "zz"])]


async def test_channel_scores_travel_with_their_items_only_when_sent(tmp_path: Path) -> None:
    rerank, _ = stage(tmp_path)
    plain = await rerank.rerank("t1", request([], "c", "b", "a"))
    assert plain.items.channels is None
    body = request([], "c", "b", "a").model_dump()
    body["candidates"]["channels"] = {"item_cf": [0.3, None, 0.1], "popular": [None, 2.0, None]}
    pinned = [{"type": "pin", "pins": [{"item_id": "a", "slot": 0}]}]
    result = await rerank.rerank("t1", RerankRequest.model_validate({**body, "rules": pinned}))
    assert result.items.item_ids == ["a", "c", "b"]
    assert [result.items.sources(i) for i in range(3)] == [{"item_cf": 0.1}, {"item_cf": 0.3}, {"popular": 2.0}]
