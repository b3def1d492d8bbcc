"""The model registry: versions per tenant and kind, their metrics, artifacts and status."""

from __future__ import annotations

import time
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from lemo.registry import ModelStatus, ModelVersion
from lemo.stores.mongo.connection import ensure_indexes


class ModelRegistry:
    """Model versions per tenant and kind. A version's document id is "<tenant>/<kind>/<run_id>", so a retried
    registration of one run finds the version it already made; version numbers come from a per-(tenant, kind)
    counter that only a first registration advances."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._versions = db["model_versions"]
        self._counters = db["counters"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self._versions,
            [IndexModel([("tenant_id", ASCENDING), ("kind", ASCENDING), ("version", DESCENDING)], name="tenant_kind")],
        )

    @staticmethod
    def _id(tenant_id: str, kind: str, run_id: str) -> str:
        return f"{tenant_id}/{kind}/{run_id}"

    @staticmethod
    def _model(doc: dict[str, Any]) -> ModelVersion:
        doc.pop("_id", None)
        return ModelVersion.model_validate(doc)

    async def register(self, candidate: ModelVersion) -> ModelVersion:
        """Stores a new version for (tenant, kind, run_id), or returns the one this run registered before."""
        _id = self._id(candidate.tenant_id, candidate.kind, candidate.run_id)
        existing = await self._versions.find_one({"_id": _id})
        if existing is not None:
            return self._model(existing)
        counter = await self._counters.find_one_and_update(
            {"_id": f"model_version/{candidate.tenant_id}/{candidate.kind}"},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None  # an upsert with ReturnDocument.AFTER always returns the document
        version = candidate.model_copy(update={"version": int(counter["value"]), "status": ModelStatus.CANDIDATE})
        try:
            await self._versions.insert_one({"_id": _id, **version.model_dump(mode="json")})
        except DuplicateKeyError:  # a concurrent retry of the same registration won
            existing = await self._versions.find_one({"_id": _id})
            assert existing is not None
            return self._model(existing)
        return version

    async def versions(self, tenant_id: str, kind: str | None = None, limit: int = 100) -> list[ModelVersion]:
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if kind is not None:
            query["kind"] = kind
        cursor = self._versions.find(query).sort([("kind", ASCENDING), ("version", DESCENDING)]).limit(limit)
        return [self._model(doc) async for doc in cursor]

    async def get(self, tenant_id: str, kind: str, version: int) -> ModelVersion | None:
        doc = await self._versions.find_one({"tenant_id": tenant_id, "kind": kind, "version": version})
        return self._model(doc) if doc is not None else None

    async def for_run(self, tenant_id: str, run_id: str) -> list[ModelVersion]:
        cursor = self._versions.find({"tenant_id": tenant_id, "run_id": run_id}).sort("kind", ASCENDING)
        return [self._model(doc) async for doc in cursor]

    async def active(self, tenant_id: str, kind: str) -> ModelVersion | None:
        cursor = self._versions.find({"tenant_id": tenant_id, "kind": kind, "status": ModelStatus.ACTIVE.value})
        actives = [self._model(doc) async for doc in cursor]
        return max(actives, key=lambda v: v.activated_at or 0.0, default=None)

    async def activate(self, tenant_id: str, kind: str, version: int, now: float | None = None) -> ModelVersion | None:
        """Makes `version` the active one and archives the one it replaces; None when there is no such version
        or its artifact was pruned."""
        doc = await self._versions.find_one_and_update(
            {"tenant_id": tenant_id, "kind": kind, "version": version, "status": {"$ne": ModelStatus.PRUNED.value}},
            {"$set": {"status": ModelStatus.ACTIVE.value, "activated_at": now if now is not None else time.time()}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        await self._versions.update_many(
            {"tenant_id": tenant_id, "kind": kind, "status": ModelStatus.ACTIVE.value, "version": {"$ne": version}},
            {"$set": {"status": ModelStatus.ARCHIVED.value}},
        )
        return self._model(doc)

    async def set_vectors(self, tenant_id: str, kind: str, version: int, vectors_uri: str) -> None:
        await self._versions.update_one(
            {"tenant_id": tenant_id, "kind": kind, "version": version}, {"$set": {"vectors_uri": vectors_uri}}
        )

    async def previous(self, tenant_id: str, kind: str) -> ModelVersion | None:
        """The version that was active before the current one (what a rollback returns to)."""
        cursor = self._versions.find(
            {"tenant_id": tenant_id, "kind": kind, "status": ModelStatus.ARCHIVED.value, "activated_at": {"$ne": None}}
        )
        archived = [self._model(doc) async for doc in cursor]
        return max(archived, key=lambda v: v.activated_at or 0.0, default=None)

    async def prune(self, tenant_id: str, kind: str, keep: int) -> list[ModelVersion]:
        """Marks archived and candidate versions beyond the newest `keep` of them as pruned and returns them,
        so their artifacts can be deleted. The active version is never pruned."""
        cursor = self._versions.find(
            {
                "tenant_id": tenant_id,
                "kind": kind,
                "status": {"$in": [ModelStatus.ARCHIVED.value, ModelStatus.CANDIDATE.value]},
            }
        ).sort("version", DESCENDING)
        stale = [self._model(doc) async for doc in cursor][keep:]
        for version in stale:
            await self._versions.update_one(
                {"_id": self._id(tenant_id, kind, version.run_id)}, {"$set": {"status": ModelStatus.PRUNED.value}}
            )
        return stale

    async def active_versions(self, limit: int = 1000) -> list[ModelVersion]:
        """Active versions of every tenant, most recently activated first: what a serving app warms up at start
        (a start-up concern, never a request's: requests read one tenant's versions only)."""
        cursor = self._versions.find({"status": ModelStatus.ACTIVE.value}).sort("activated_at", DESCENDING).limit(limit)
        return [self._model(doc) async for doc in cursor]

    async def kinds(self, tenant_id: str) -> list[str]:
        return sorted(await self._versions.distinct("kind", {"tenant_id": tenant_id}))
