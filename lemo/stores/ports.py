"""The ports: what the apps and the domain ask of the stores, one small Protocol per role (cosmicpython's ports and
adapters). A service that only reads items is given an `ItemReader`, not the whole repository. The adapters
(`lemo.stores.mongo`, `lemo.stores.exposures`, `lemo.stores.ingest`, `lemo.stores.vectors`) implement them, chosen by
URI, and are built only in each app's composition root (its `main.py` lifespan or `bootstrap.py`); everything else
is typed against these, and unit tests hand in fakes of them. Every method names the tenant it reads or writes.
This module imports no driver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lemo.events import Event
from lemo.exposures import Exposure
from lemo.ingest import IngestKind, Rejection
from lemo.registry import ModelVersion
from lemo.tenancy import ApiKey, Tenant


class TenantAlreadyExists(Exception):
    """`TenantDirectory.create` of a tenant id that exists."""


@dataclass(frozen=True)
class RejectedMessage:
    """An ingest message turned away, as `IngestRecorder.record` keeps it."""

    message_id: str
    rejection: Rejection
    excerpt: str


# --- items ---------------------------------------------------------------------------------------------------------


class ItemScan(Protocol):
    """Every item of a tenant, a few fields each (catalog views, item features)."""

    def scan(self, tenant_id: str, fields: Sequence[str]) -> AsyncIterator[dict[str, Any]]: ...


class ItemReader(ItemScan, Protocol):
    """Items by id, and the whole catalog (the rerank metadata cache)."""

    async def get_many(
        self, tenant_id: str, item_ids: Sequence[str], fields: Sequence[str] | None = None
    ) -> list[dict[str, Any]]: ...


class ItemCatalog(Protocol):
    """The catalog's items, written and read one at a time, in batches and in pages (the catalog app)."""

    async def create(self, tenant_id: str, item_id: str, fields: Mapping[str, Any]) -> dict[str, Any] | None: ...

    async def upsert(self, tenant_id: str, item_id: str, fields: Mapping[str, Any]) -> dict[str, Any]: ...

    async def update(self, tenant_id: str, item_id: str, fields: Mapping[str, Any]) -> dict[str, Any] | None: ...

    async def upsert_many(self, tenant_id: str, items: Sequence[tuple[str, Mapping[str, Any]]]) -> int: ...

    async def get(self, tenant_id: str, item_id: str) -> dict[str, Any] | None: ...

    async def delete(self, tenant_id: str, item_id: str) -> bool: ...

    async def list(
        self,
        tenant_id: str,
        *,
        category: str | None = None,
        tag: str | None = None,
        hidden: bool | None = None,
        after: str | None = None,
        limit: int = 100,
        search: str | None = None,
    ) -> list[dict[str, Any]]: ...

    async def count(
        self,
        tenant_id: str,
        *,
        category: str | None = None,
        tag: str | None = None,
        hidden: bool | None = None,
        search: str | None = None,
    ) -> int: ...


# --- users ---------------------------------------------------------------------------------------------------------


class UserLookup(Protocol):
    """One user with its stored attributes."""

    async def get(self, tenant_id: str, user_id: str) -> dict[str, Any] | None: ...


class UserRegistration(Protocol):
    """Users first seen in events, stored once (marked implicit)."""

    async def ensure_many(self, tenant_id: str, user_ids: Sequence[str]) -> int: ...


class UserDirectory(UserLookup, Protocol):
    """The users API: users written, read, deleted and paged through (the profiles app)."""

    async def upsert(self, tenant_id: str, user_id: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]: ...

    async def get_many(self, tenant_id: str, user_ids: list[str]) -> list[dict[str, Any]]: ...

    async def delete(self, tenant_id: str, user_id: str) -> bool: ...

    async def list(
        self, tenant_id: str, *, prefix: str | None = None, after: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]: ...

    async def count(self, tenant_id: str, *, prefix: str | None = None) -> int: ...


class UserIds(Protocol):
    """A tenant's user ids (whose feeds the warm-up refreshes)."""

    async def ids(self, tenant_id: str, limit: int) -> list[str]: ...


# --- the events and exposures archives -----------------------------------------------------------------------------


class ActiveUsers(Protocol):
    """The users the archive saw act recently, most recent first."""

    async def active_users(
        self, tenant_id: str, since: float, limit: int, exclude_types: Sequence[str] = ("impression",)
    ) -> list[str]: ...


class EventSink(Protocol):
    """Accepted events archived exactly once (the events app's archive subscription)."""

    async def append_many(self, events: Sequence[Event]) -> list[Event]: ...

    async def forget(self, events: Sequence[Event]) -> None: ...


class EventHistory(Protocol):
    """A user's latest archived events (the operator console)."""

    async def recent_for_user(self, tenant_id: str, user_id: str, limit: int) -> list[dict[str, Any]]: ...


class ExposureSink(Protocol):
    """Served lists archived exactly once (the events app's exposures subscription)."""

    async def append_many(self, exposures: Sequence[Exposure]) -> list[Exposure]: ...

    async def forget(self, exposures: Sequence[Exposure]) -> None: ...


class ExposureHistory(Protocol):
    """The lists a user was shown, newest first (the operator console)."""

    async def recent_for_user(self, tenant_id: str, user_id: str, limit: int) -> list[Exposure]: ...


class TenantsWithData(Protocol):
    """Every tenant a store holds anything of (what a cleanup run visits)."""

    async def tenants(self) -> list[str]: ...


# --- ingest --------------------------------------------------------------------------------------------------------


class IngestRecorder(Protocol):
    """What became of one delivery of an ingest topic."""

    async def record(
        self, tenant_id: str, kind: IngestKind, topic: str, accepted: int, rejected: Sequence[RejectedMessage]
    ) -> None: ...

    async def flush(self) -> None:
        """Writes the accepted/rejected counts buffered since the last flush."""


class IngestReport(Protocol):
    """A tenant's ingest counts and latest rejections."""

    async def counts(self, tenant_id: str) -> dict[str, dict[str, int]]: ...

    async def errors(
        self, tenant_id: str, limit: int = 100, kind: IngestKind | None = None
    ) -> list[dict[str, Any]]: ...


# --- models --------------------------------------------------------------------------------------------------------


class ActiveModels(Protocol):
    """The version of a model kind a tenant is served."""

    async def active(self, tenant_id: str, kind: str) -> ModelVersion | None: ...


class ServedModels(ActiveModels, Protocol):
    """Active versions, of every tenant too: what a serving app warms up at start (ranking, recall)."""

    async def active_versions(self, limit: int = 1000) -> list[ModelVersion]: ...


class ModelVersions(Protocol):
    """A tenant's versions, listed, activated and rolled back (the trainer's models API)."""

    async def versions(self, tenant_id: str, kind: str | None = None, limit: int = 100) -> list[ModelVersion]: ...

    async def activate(
        self, tenant_id: str, kind: str, version: int, now: float | None = None
    ) -> ModelVersion | None: ...

    async def previous(self, tenant_id: str, kind: str) -> ModelVersion | None: ...


# --- item vectors --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VectorHit:
    item_id: str
    score: float


class VectorSearch(Protocol):
    """A model version's item vectors, searched by inner product (recall's embedding channels)."""

    def load(self) -> None: ...

    def search(
        self, tenant_id: str, vector: Sequence[float], limit: int, exclude: Collection[str] = ()
    ) -> list[VectorHit]: ...

    def close(self) -> None: ...


class VectorOpener(Protocol):
    """Opens the collection a version's vectors_uri names (a Milvus Lite file or a server, by URI)."""

    def __call__(self, uri: str, collection: str, dim: int) -> VectorSearch: ...


# --- scenarios -----------------------------------------------------------------------------------------------------


class ScenarioSource(Protocol):
    """One scenario document by id (the scenario book, read per recommendation)."""

    async def get(self, tenant_id: str, scenario_id: str) -> dict[str, Any] | None: ...


class ScenarioList(Protocol):
    """Every scenario document of a tenant, in scenario_id order."""

    async def all(self, tenant_id: str) -> list[dict[str, Any]]: ...


class ScenarioStore(ScenarioList, Protocol):
    """Scenarios written and deleted (the scenarios API)."""

    async def put(self, tenant_id: str, scenario: dict[str, Any]) -> bool: ...

    async def delete(self, tenant_id: str, scenario_id: str) -> bool: ...


# --- tenants and their keys ----------------------------------------------------------------------------------------


class KeyLookup(Protocol):
    """An API key's stored record by key id (what every authenticated request resolves)."""

    async def find_key(self, key_id: str) -> ApiKey | None: ...


class TenantLookup(Protocol):
    """One tenant by id."""

    async def get(self, tenant_id: str) -> Tenant | None: ...


class TenantList(Protocol):
    """The platform's tenants, in id order."""

    async def all(self, limit: int) -> list[Tenant]: ...


class TenantDirectory(TenantLookup, TenantList, Protocol):
    """Tenants and their keys created, listed and revoked (the admin API). `create` raises TenantAlreadyExists."""

    async def create(self, tenant: Tenant) -> None: ...

    async def add_key(self, key: ApiKey) -> None: ...

    async def keys(self, tenant_id: str) -> list[ApiKey]: ...

    async def revoke_key(self, tenant_id: str, key_id: str) -> bool: ...
