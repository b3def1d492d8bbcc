"""Text embeddings and the content channel: the one signal a brand-new item has."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lemo.models import TEXT_DIM, ItemMeta, RecallModel, embed_items, load_model, train_model
from lemo.models.text import ContentRecall, embed_texts, item_text, resolve_precision
from tests.unit.synthetic_data import cluster_of_item, planted


def test_embeddings_are_unit_vectors_and_close_for_similar_texts() -> None:
    ids, vectors = embed_items(
        [ItemMeta("a", "Star Wars", ["sci-fi"]), ItemMeta("b", "Star Trek", ["sci-fi"]), ItemMeta("c", "Pasta recipes")]
    )
    assert ids == ["a", "b", "c"] and vectors.shape == (3, TEXT_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_content_channel_recommends_same_theme_and_round_trips(tmp_path: Path) -> None:
    model = train_model("content", planted())
    assert isinstance(model, RecallModel)
    top = model.recommend(["i-0", "i-1"], 5)
    assert [cluster_of_item(i) for i, _ in top] == [0] * 5
    assert model.recommend(["unknown"], 5) == [] and model.similar_items("unknown", 3) == []
    model.save(tmp_path)
    loaded = load_model("content", tmp_path)
    assert isinstance(loaded, RecallModel)
    assert loaded.recommend(["i-0", "i-1"], 5) == top


def test_bf16_embeddings_stay_within_cosine_of_fp32() -> None:
    """The trainer embeds in bf16 where the CPU supports it natively (3x faster); the vectors must stay those
    of the fp32 model, or the content channel would change with the machine."""
    texts = [f"item {n}. c{n % 7}" for n in range(40)] + ["Star Wars (1977). Action, Sci-Fi", "Pasta recipes"]
    fp32 = embed_texts(texts, precision="fp32")
    bf16 = embed_texts(texts, precision="bf16")
    assert np.einsum("ij,ij->i", fp32, bf16).min() > 0.999
    assert resolve_precision("auto", "cuda") == "fp32" and resolve_precision("fp32", "cpu") == "fp32"


def test_small_catalogs_keep_fp32_vectors() -> None:
    model = train_model("content", planted())
    assert isinstance(model, ContentRecall)
    items = [planted().items[i] for i in model.item_ids[:5]]
    np.testing.assert_array_equal(model.vectors[:5], embed_texts([item_text(i) for i in items], precision="fp32"))
