"""lemo/stores/ports.py: every store adapter implements the ports its callers are typed against. Checked twice: by
mypy (the assignments in `_adapters_satisfy_their_ports`, which never runs) against the ports' full signatures, and
here at run time (each port method on the adapter, as coroutine or not, with the same parameters), so an adapter
that drifts from a port fails both `make lint` and the unit tests."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

import lemo.stores
from lemo.stores import ports
from lemo.stores.exposures import ExposureArchive
from lemo.stores.ingest import IngestLog
from lemo.stores.mongo import (
    EventArchive,
    ItemRepository,
    ModelRegistry,
    ScenarioRepository,
    TenantRepository,
    UserRepository,
)
from lemo.stores.vectors import VectorIndex

# Each adapter and the ports it implements (kept in step with the assignments below).
IMPLEMENTS: dict[type, tuple[type, ...]] = {
    ItemRepository: (ports.ItemScan, ports.ItemReader, ports.ItemCatalog, ports.TenantsWithData),
    UserRepository: (ports.UserLookup, ports.UserRegistration, ports.UserDirectory, ports.UserIds),
    EventArchive: (ports.ActiveUsers, ports.EventSink, ports.EventHistory, ports.TenantsWithData),
    ExposureArchive: (ports.ExposureSink, ports.ExposureHistory, ports.TenantsWithData),
    IngestLog: (ports.IngestRecorder, ports.IngestReport),
    ModelRegistry: (ports.ActiveModels, ports.ServedModels, ports.ModelVersions),
    ScenarioRepository: (ports.ScenarioSource, ports.ScenarioList, ports.ScenarioStore),
    TenantRepository: (ports.KeyLookup, ports.TenantLookup, ports.TenantList, ports.TenantDirectory),
    VectorIndex: (ports.VectorSearch,),
}


def _adapters_satisfy_their_ports(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Never called: mypy checks that each adapter is assignable to each of its ports."""
    items = ItemRepository(db)
    _item_scan: ports.ItemScan = items
    _item_reader: ports.ItemReader = items
    _item_catalog: ports.ItemCatalog = items
    _item_tenants: ports.TenantsWithData = items
    users = UserRepository(db)
    _user_lookup: ports.UserLookup = users
    _user_registration: ports.UserRegistration = users
    _user_directory: ports.UserDirectory = users
    _user_ids: ports.UserIds = users
    events = EventArchive(db, retention_days=1)
    _active_users: ports.ActiveUsers = events
    _event_sink: ports.EventSink = events
    _event_history: ports.EventHistory = events
    _event_tenants: ports.TenantsWithData = events
    exposures = ExposureArchive(db, retention_days=1)
    _exposure_sink: ports.ExposureSink = exposures
    _exposure_history: ports.ExposureHistory = exposures
    _exposure_tenants: ports.TenantsWithData = exposures
    ingest = IngestLog(db)
    _ingest_recorder: ports.IngestRecorder = ingest
    _ingest_report: ports.IngestReport = ingest
    registry = ModelRegistry(db)
    _active_models: ports.ActiveModels = registry
    _served_models: ports.ServedModels = registry
    _model_versions: ports.ModelVersions = registry
    scenarios = ScenarioRepository(db)
    _scenario_source: ports.ScenarioSource = scenarios
    _scenario_list: ports.ScenarioList = scenarios
    _scenario_store: ports.ScenarioStore = scenarios
    tenants = TenantRepository(db)
    _key_lookup: ports.KeyLookup = tenants
    _tenant_lookup: ports.TenantLookup = tenants
    _tenant_list: ports.TenantList = tenants
    _tenant_directory: ports.TenantDirectory = tenants
    _vector_opener: ports.VectorOpener = VectorIndex
    _vector_search: ports.VectorSearch = VectorIndex("vectors.db", "items", 4)


def _is_port(value: object) -> bool:
    return isinstance(value, type) and getattr(value, "_is_protocol", False) and value.__module__ == ports.__name__


PORTS = [value for value in vars(ports).values() if _is_port(value)]


def _methods(port: type) -> dict[str, Any]:
    """The port's methods, its base ports' included."""
    found: dict[str, Any] = {}
    for cls in reversed(port.__mro__):
        if _is_port(cls):
            found |= {k: v for k, v in vars(cls).items() if inspect.isfunction(v) and not k.startswith("_")}
    return found


def _shape(function: Any) -> tuple[str, list[tuple[str, Any, Any]]]:
    """Coroutine or not, and each parameter's name, kind and default (mypy compares the types)."""
    flavour = "coroutine" if inspect.iscoroutinefunction(function) else "plain"
    parameters = [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]
    return flavour, parameters


def _drift(adapter: type, port: type) -> list[str]:
    found = []
    for name, wanted in _methods(port).items():
        have = getattr(adapter, name, None)
        if have is None:
            found.append(f"{adapter.__name__} lacks {port.__name__}.{name}")
            continue
        flavour, parameters = _shape(have)
        if inspect.isasyncgenfunction(have):  # `async def` with `yield`: what `def ... -> AsyncIterator` returns
            flavour = "plain"
        if (flavour, parameters) != _shape(wanted):
            found.append(f"{adapter.__name__}.{name} differs from {port.__name__}.{name}")
    return found


def test_every_adapter_has_each_method_of_its_ports_with_the_same_parameters() -> None:
    assert [
        d for adapter, implemented in IMPLEMENTS.items() for port in implemented for d in _drift(adapter, port)
    ] == []


def test_every_port_has_an_adapter() -> None:
    implemented = {port for ports_of in IMPLEMENTS.values() for port in ports_of}
    assert sorted(p.__name__ for p in PORTS if p not in implemented and p is not ports.VectorOpener) == []


def _adapter_classes() -> set[type]:
    """Every class the store modules define that holds a connection: value types and errors aside."""
    found: set[type] = set()
    for module in pkgutil.walk_packages(lemo.stores.__path__, f"{lemo.stores.__name__}."):
        if module.name == ports.__name__ or module.ispkg:
            continue
        for value in vars(importlib.import_module(module.name)).values():
            if (
                isinstance(value, type)
                and value.__module__ == module.name
                and not issubclass(value, BaseException)
                and not dataclasses.is_dataclass(value)
            ):
                found.add(value)
    return found


def test_every_adapter_is_checked_against_its_ports() -> None:
    assert _adapter_classes() == set(IMPLEMENTS)


class _DriftedScenarios:
    """A scenario store whose `put` lost a parameter, `delete` is no coroutine and `all` is missing."""

    async def put(self, tenant_id: str) -> bool:
        return True

    def delete(self, tenant_id: str, scenario_id: str) -> bool:
        return True


def test_the_check_finds_a_drifted_adapter() -> None:
    assert _drift(_DriftedScenarios, ports.ScenarioStore) == [
        "_DriftedScenarios lacks ScenarioStore.all",
        "_DriftedScenarios.put differs from ScenarioStore.put",
        "_DriftedScenarios.delete differs from ScenarioStore.delete",
    ]
