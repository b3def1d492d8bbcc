"""Where training runs keep their files: exported data and model artifacts, under one artifact URI.

The URI is a local directory (`file:///path` or a plain path) by default. Layout, per tenant:
  <root>/<tenant>/runs/<run_id>/...        one run's export and splits (deleted by cleanup)
  <root>/<tenant>/models/<kind>/<run_id>/  one model version's artifact
  <root>/<tenant>/vectors/<run_id>.db      one run's item vectors (Milvus Lite)
  <root>/<tenant>/archive/snapshot.parquet the tenant's events as of the last export
  <root>/<tenant>/cache/text-vectors/      item text vectors, so a retrain embeds only new or changed titles
Writes go to a temporary sibling first and are renamed into place, so a retried or killed activity never
leaves a half-written artifact where a reader could load it.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

from lemo.tenancy import validate_tenant_id


class UnsupportedArtifactUri(ValueError):
    pass


def _path_of(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme else uri).expanduser().resolve()
    raise UnsupportedArtifactUri(f"artifact URI scheme {parsed.scheme!r} is not supported (use a local directory)")


class ArtifactStore:
    def __init__(self, uri: str) -> None:
        self.root = _path_of(uri)

    def _tenant(self, tenant_id: str) -> Path:
        return self.root / validate_tenant_id(tenant_id)

    def snapshot_file(self, tenant_id: str) -> Path:
        """The tenant's archive snapshot (its events as Parquet), kept between runs."""
        return self._tenant(tenant_id) / "archive" / "snapshot.parquet"

    def text_vectors_dir(self, tenant_id: str) -> Path:
        """The tenant's item text vectors, kept between runs and processes (lemo/models/text_cache.py)."""
        return self._tenant(tenant_id) / "cache" / "text-vectors"

    def runs_root(self, tenant_id: str) -> Path:
        return self._tenant(tenant_id) / "runs"

    def run_dir(self, tenant_id: str, run_id: str) -> Path:
        return self.runs_root(tenant_id) / _segment(run_id)

    def model_dir(self, tenant_id: str, kind: str, run_id: str) -> Path:
        return self._tenant(tenant_id) / "models" / _segment(kind) / _segment(run_id)

    def vectors_file(self, tenant_id: str, run_id: str) -> Path:
        """A run's Milvus Lite file (its embedding models' item vectors, one collection per model)."""
        return self._tenant(tenant_id) / "vectors" / f"{_segment(run_id)}.db"

    def uri(self, path: Path) -> str:
        return path.as_uri()

    def path(self, uri: str) -> Path:
        """The local path of an artifact URI, which must lie under this store's root."""
        path = _path_of(uri)
        if not path.is_relative_to(self.root):
            raise UnsupportedArtifactUri(f"{uri} is outside the artifact root {self.root}")
        return path

    @contextmanager
    def writing(self, final: Path) -> Iterator[Path]:
        """Yields a fresh temporary directory; on success it replaces `final` in one rename."""
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir()
        try:
            yield tmp
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def delete(self, uri: str) -> bool:
        path = self.path(uri)
        if not path.exists():
            return False
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        return True


def _segment(value: str) -> str:
    if not value or "/" in value or value in (".", "..") or value.startswith("."):
        raise ValueError(f"invalid path segment {value!r}")
    return value
