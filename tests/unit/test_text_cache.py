"""Text vectors on disk between trainer processes: a retrain embeds only new or changed titles, the cache stays
bounded, and concurrent writers never leave a half-written or lost shard."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lemo.artifacts import ArtifactStore
from lemo.models import text
from lemo.models.text import embed_texts
from lemo.models.text_cache import SHARD_SUFFIX, TextVectorCache
from lemo.run_data import item_meta
from tests.unit.synthetic_data import planted

DIM = 4


class _Embedder:
    """A stand-in for MiniLM that counts what it is asked to embed."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            self.asked += texts
        return np.array([[len(t), sum(map(ord, t)), 1.0, -1.0] for t in texts], dtype=np.float32)


def test_a_new_cache_on_the_same_directory_embeds_only_new_or_changed_texts(tmp_path: Path) -> None:
    first, second = _Embedder(), _Embedder()
    titles = [f"title {n}" for n in range(50)]
    made = TextVectorCache(tmp_path, DIM).get_or_embed(titles, first)
    assert sorted(first.asked) == sorted(titles)
    changed = [*titles[:49], "title 49, renamed"]
    again = TextVectorCache(tmp_path, DIM).get_or_embed(changed, second)  # as a new trainer process would
    assert second.asked == ["title 49, renamed"]
    for title in titles[:49]:
        np.testing.assert_array_equal(again[title], made[title])
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_cache_is_bounded_and_keeps_the_texts_last_asked_for(tmp_path: Path) -> None:
    cache = TextVectorCache(tmp_path, DIM, max_vectors=100, max_shards=4)
    for run in range(10):  # a catalog whose titles all change every run
        cache.get_or_embed([f"run {run} item {n}" for n in range(40)], _Embedder())
        shards = list(tmp_path.glob(f"*{SHARD_SUFFIX}"))
        assert len(shards) <= 4
        assert sum(len(np.load(s)["keys"]) for s in shards) <= 100
    embedder = _Embedder()
    cache.get_or_embed([f"run 9 item {n}" for n in range(40)], embedder)
    assert embedder.asked == []


@pytest.mark.parametrize("max_shards", [100, 2])
def test_concurrent_writers_leave_whole_shards_only(tmp_path: Path, max_shards: int) -> None:
    """Six runs write at once. Without compaction nothing is lost; with it (2 shards at most) each compaction
    drops what its run did not ask for, by design, but whatever is read back is exactly what was written."""
    embedder = _Embedder()
    # Retrains of one catalog: mostly the same titles, a few new in each (together within twice one run's).
    sets = [[f"shared {n}" for n in range(100)] + [f"writer {w} item {n}" for n in range(10)] for w in range(6)]
    errors: list[BaseException] = []

    def write(texts: list[str]) -> None:
        try:
            TextVectorCache(tmp_path, DIM, max_shards=max_shards).get_or_embed(texts, embedder)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(texts,)) for texts in sets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert not list(tmp_path.glob(".*.tmp"))
    last = _Embedder()
    for texts in sets:
        found = TextVectorCache(tmp_path, DIM, max_shards=100).get_or_embed(texts, last)
        np.testing.assert_array_equal(np.stack([found[t] for t in texts]), _Embedder()(texts))
    if max_shards == 100:
        assert last.asked == []


def test_a_foreign_or_damaged_file_is_skipped_not_trusted(tmp_path: Path) -> None:
    (tmp_path / f"broken{SHARD_SUFFIX}").write_bytes(b"not a numpy file")
    embedder = _Embedder()
    assert set(TextVectorCache(tmp_path, DIM).get_or_embed(["a", "b"], embedder)) == {"a", "b"}
    assert embedder.asked == ["a", "b"] and (tmp_path / f"broken{SHARD_SUFFIX}").exists()


def test_embed_texts_with_a_cache_dir_survives_a_new_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    titles = ["Star Wars (1977). Action, Sci-Fi", "Toy Story (1995). Animation", "A title only this test uses"]
    monkeypatch.setattr(text, "_vector_cache", {})
    made = embed_texts(titles, precision="fp32", cache_dir=tmp_path)

    def no_model(*_: Any) -> Any:
        raise AssertionError("the model was loaded although every text was cached on disk")

    monkeypatch.setattr(text, "_vector_cache", {})  # a fresh trainer process: nothing in memory
    monkeypatch.setattr(text, "_encoder", no_model)
    np.testing.assert_array_equal(embed_texts(titles, precision="fp32", cache_dir=tmp_path), made)
    assert [p.name for p in tmp_path.iterdir()] == [f"{text.MODEL_NAME}-fp32"]


def test_the_trainer_keeps_each_tenants_text_vectors_apart(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path))
    assert store.text_vectors_dir("t1") == tmp_path.resolve() / "t1" / "cache" / "text-vectors"
    assert store.text_vectors_dir("t1") != store.text_vectors_dir("t2")


def test_embedding_the_catalog_ahead_leaves_content_training_nothing_to_embed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The train workflow embeds the catalog beside the export (`embed_catalog`); content training in another
    step then reads every vector from the cache, with the same values it would have made itself."""
    data = planted()
    monkeypatch.setattr(text, "_vector_cache", {})
    catalog = [
        item_meta({"item_id": i.item_id, "title": i.title, "categories": i.categories}) for i in data.items.values()
    ]
    assert text.embed_catalog(catalog, {}, tmp_path) == len(data.items)
    ahead = text.ContentRecall.train(data, {}, cache_dir=tmp_path)

    def no_model(*_: Any) -> Any:
        raise AssertionError("content training embedded a text the catalog step had embedded")

    monkeypatch.setattr(text, "_vector_cache", {})  # the trainer may have restarted in between
    monkeypatch.setattr(text, "_encoder", no_model)
    cached = text.ContentRecall.train(data, {}, cache_dir=tmp_path)
    assert cached.item_ids == ahead.item_ids
    np.testing.assert_array_equal(cached.vectors, ahead.vectors)
