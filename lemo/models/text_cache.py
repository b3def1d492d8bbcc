"""Text vectors kept on disk between trainer processes, so retraining a tenant embeds only new or changed titles
(MiniLM costs 0.7-1.9 ms of CPU a title: 100,000 titles are minutes).

A cache is a directory per model and precision (the trainer keeps one per tenant beside its archive snapshot,
`ArtifactStore.text_vectors_dir`). Each write is a shard file of (text digest, float32 vector) rows, written under
a temporary name and renamed into place, so concurrent writers (two runs, two trainer processes) never meet and a
reader sees whole shards or none. Keys are 16-byte BLAKE2b digests of the text: the texts themselves are not
stored. The cache is bounded: once it holds more than `max_vectors` rows, or more than twice the rows of the
texts just asked for, or more than `max_shards` files, it is rewritten as one shard of the vectors of the texts
just asked for (a retrain asks for the same ones, less the titles that changed), and the shards that were read
are deleted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

SHARD_SUFFIX = ".vectors.npz"
DIGEST_BYTES = 16


def text_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=DIGEST_BYTES).digest()


class TextVectorCache:
    """Vectors of texts for one model and precision under `directory` (created on first write)."""

    def __init__(self, directory: Path, dim: int, max_vectors: int = 500_000, max_shards: int = 16) -> None:
        self.directory = directory
        self.dim = dim
        self.max_vectors = max_vectors
        self.max_shards = max_shards

    def get_or_embed(self, texts: Sequence[str], embed: Callable[[list[str]], np.ndarray]) -> dict[str, np.ndarray]:
        """Every text's vector: read from the cache, or made by `embed` (texts -> float32 [n, dim]) and written to
        it as one new shard."""
        cached, read = self._read()
        digests = {t: text_digest(t) for t in dict.fromkeys(texts)}
        found = {t: cached[d] for t, d in digests.items() if d in cached}
        missing = [t for t in digests if t not in found]
        written: list[Path] = []
        if missing:
            vectors = np.asarray(embed(missing), dtype=np.float32)
            written.append(self._write([digests[t] for t in missing], vectors))
            found.update(zip(missing, vectors, strict=True))
        if len(cached) + len(missing) > min(self.max_vectors, 2 * len(digests)) or len(read) + len(written) > (
            self.max_shards
        ):
            keep = list(digests)[: self.max_vectors]
            self._write([digests[t] for t in keep], np.stack([found[t] for t in keep]))
            for shard in read + written:  # only these: a shard another writer added meanwhile stays
                shard.unlink(missing_ok=True)
            logger.info("text vector cache %s compacted to %d vectors", self.directory, len(keep))
        return found

    def _shards(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(SHARD_SUFFIX))

    def _read(self) -> tuple[dict[bytes, np.ndarray], list[Path]]:
        """Every cached vector by digest, and the shards read (a shard deleted meanwhile by another writer's
        compaction is skipped: its rows are in the shard that replaced it, or were dropped on purpose)."""
        vectors: dict[bytes, np.ndarray] = {}
        read: list[Path] = []
        for shard in self._shards():
            try:
                with np.load(shard) as data:
                    keys, rows = data["keys"], data["vectors"]
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError) as exc:  # not ours or damaged: never trusted, never deleted
                logger.warning("skipping unreadable text vector shard %s: %s", shard, exc)
                continue
            if rows.ndim != 2 or rows.shape[1] != self.dim or keys.shape != (len(rows), DIGEST_BYTES):
                logger.warning("skipping text vector shard %s of shape %s", shard, rows.shape)
                continue
            vectors.update(zip((row.tobytes() for row in keys), rows, strict=True))
            read.append(shard)
        return vectors, read

    def _write(self, digests: Sequence[bytes], vectors: np.ndarray) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"{uuid.uuid4().hex}{SHARD_SUFFIX}"
        tmp = self.directory / f".{final.name}.tmp"
        keys = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), DIGEST_BYTES)
        try:
            with tmp.open("wb") as f:
                np.savez(f, keys=keys, vectors=np.asarray(vectors, dtype=np.float32))
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return final
