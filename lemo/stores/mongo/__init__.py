"""MongoDB adapters through PyMongo's async API, one repository per module, each implementing the small ports of
`lemo.stores.ports` its callers are typed against. Every query carries tenant_id; no method can omit it. The names
are exported here, so the composition roots (each app's lifespan or bootstrap) import them from `lemo.stores.mongo`."""

from lemo.stores.mongo.connection import ensure_indexes, find_by_ids, insert_new, is_ferretdb, open_database
from lemo.stores.mongo.event_archive import EventArchive
from lemo.stores.mongo.item_repository import ItemRepository
from lemo.stores.mongo.model_registry import ModelRegistry
from lemo.stores.mongo.scenario_repository import ScenarioRepository
from lemo.stores.mongo.tenant_repository import TenantRepository
from lemo.stores.mongo.user_repository import UserRepository
from lemo.stores.ports import TenantAlreadyExists

__all__ = [
    "EventArchive",
    "ItemRepository",
    "ModelRegistry",
    "ScenarioRepository",
    "TenantAlreadyExists",
    "TenantRepository",
    "UserRepository",
    "ensure_indexes",
    "find_by_ids",
    "insert_new",
    "is_ferretdb",
    "open_database",
]
