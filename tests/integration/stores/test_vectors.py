"""Milvus Lite through pymilvus: the local-file vector index, tenant-filtered search."""

from __future__ import annotations

from pathlib import Path

from lemo.stores.vectors import VectorIndex


def test_upsert_search_delete_scoped_by_tenant(tmp_path: Path) -> None:
    index = VectorIndex(str(tmp_path / "vectors.db"), collection="items", dim=4)
    try:
        index.ensure_collection()
        index.ensure_collection()  # idempotent
        index.upsert("t1", {"a": [1, 0, 0, 0], "b": [0.7, 0.7, 0, 0], "c": [0, 0, 1, 0]})
        index.upsert("t2", {"a": [1, 0, 0, 0], "z": [0.99, 0.1, 0, 0]})

        hits = index.search("t1", [1, 0, 0, 0], limit=2)
        assert [h.item_id for h in hits] == ["a", "b"]
        assert hits[0].score > hits[1].score
        assert {h.item_id for h in index.search("t2", [1, 0, 0, 0], limit=10)} == {"a", "z"}

        index.upsert("t1", {"c": [1, 0.1, 0, 0]})  # upsert replaces the vector
        index.delete("t1", ["a"])
        assert [h.item_id for h in index.search("t1", [1, 0, 0, 0], limit=2)] == ["c", "b"]
    finally:
        index.close()
