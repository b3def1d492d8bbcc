"""Vector search through pymilvus: Milvus Lite (a local file, one process at a time) or a Milvus server.

The URI picks the backend, as the MILVUS_URI setting does: a path ending in `.db` is Milvus Lite,
`http(s)://...` is a server. Every row carries tenant_id and every search filters on it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from pymilvus import DataType, MilvusClient

from lemo.stores.ports import VectorHit

_SAFE = re.compile(r"^[A-Za-z0-9_.:@\-]+$")


class VectorIndex:
    """Item vectors in Milvus (ports VectorSearch; the class itself is a VectorOpener)."""

    def __init__(self, uri: str, collection: str, dim: int) -> None:
        self._uri = uri
        self._client = MilvusClient(uri)
        self._collection = collection
        self._dim = dim

    def ensure_collection(self) -> None:
        if self._client.has_collection(self._collection):
            return
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=260)
        schema.add_field("tenant_id", DataType.VARCHAR, max_length=128)
        schema.add_field("item_id", DataType.VARCHAR, max_length=128)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self._dim)
        index = self._client.prepare_index_params()
        index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        self._client.create_collection(self._collection, schema=schema, index_params=index)

    def load(self) -> None:
        """Loads an existing collection into memory for search (a collection written by another process)."""
        self._client.load_collection(self._collection)

    def upsert(self, tenant_id: str, vectors: dict[str, Sequence[float]]) -> None:
        rows = [
            {"pk": f"{tenant_id}/{item_id}", "tenant_id": tenant_id, "item_id": item_id, "vector": list(v)}
            for item_id, v in vectors.items()
        ]
        if rows:
            self._client.upsert(self._collection, rows)

    def sample(self, tenant_id: str, limit: int = 1) -> list[tuple[str, list[float]]]:
        """A few (item_id, vector) rows of the tenant, for checks and probes."""
        rows = self._client.query(
            self._collection, filter=self._tenant_filter(tenant_id), output_fields=["item_id", "vector"], limit=limit
        )
        return [(row["item_id"], [float(x) for x in row["vector"]]) for row in rows]

    @staticmethod
    def _tenant_filter(tenant_id: str) -> str:
        if not _SAFE.match(tenant_id):  # the id goes into a filter expression
            raise ValueError(f"invalid tenant id {tenant_id!r}")
        return f'tenant_id == "{tenant_id}"'

    def search(
        self, tenant_id: str, vector: Sequence[float], limit: int, exclude: Collection[str] = ()
    ) -> list[VectorHit]:
        """The `limit` nearest items of the tenant; `exclude`d item ids are left out by the server, so a user's
        seen items need not be fetched and dropped (ids that cannot go into a filter expression are dropped here,
        after the search)."""
        expression = self._tenant_filter(tenant_id)
        safe = sorted(i for i in exclude if _SAFE.match(i))
        if safe:
            expression += " and item_id not in [" + ", ".join(f'"{i}"' for i in safe) + "]"
        unsafe = {i for i in exclude if not _SAFE.match(i)}
        result = self._client.search(
            self._collection,
            data=[list(vector)],
            limit=limit + len(unsafe),
            filter=expression,
            output_fields=["item_id"],
        )
        hits = [VectorHit(item_id=hit["entity"]["item_id"], score=float(hit["distance"])) for hit in result[0]]
        return [h for h in hits if h.item_id not in unsafe][:limit]

    def delete(self, tenant_id: str, item_ids: Sequence[str]) -> None:
        self._client.delete(self._collection, ids=[f"{tenant_id}/{i}" for i in item_ids])

    def close(self) -> None:
        """Closes the client; for Milvus Lite also stops this process's server for the file, so another process
        (the serving side, after a training run wrote the file) can open it."""
        self._client.close()
        if self._uri.endswith(".db"):
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self._uri)
