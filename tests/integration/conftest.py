"""Integration fixtures: real daprd sidecars (tests/integration/mesh.py) over scripts/infra.sh's stores."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from apps.shared.settings import EVENTS_DEAD_LETTER_TOPIC, EVENTS_TOPIC, EXPOSURES_TOPIC, ITEMS_TOPIC, MODELS_TOPIC
from tests.integration.mesh import App, port_open, uvicorn

MONGODB_URI = os.environ.get("LEMO_MONGODB_URI", "mongodb://127.0.0.1:27018/")
ADMIN_KEY = "it-admin-" + uuid.uuid4().hex
INFRA = {"redis": 6380, "ferretdb": 27018, "placement": 50005, "scheduler": 50006}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def infra() -> None:
    down = [f"{name} (127.0.0.1:{port})" for name, port in INFRA.items() if not port_open(port)]
    if down:
        pytest.fail(f"not running: {', '.join(down)}; `make test` starts them (scripts/infra.sh up kafka)")


@pytest.fixture(scope="session")
def database_name() -> str:
    """One database per test session, so runs never see each other's documents."""
    return f"lemo_it_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def app_env(database_name: str) -> dict[str, str]:
    """Environment every app under test gets."""
    return {
        "LEMO_MONGODB_URI": MONGODB_URI,
        "LEMO_MONGODB_DATABASE": database_name,
        "LEMO_LOG_LEVEL": "INFO",
        # One ingest stream per tenant of the database, which here holds every module's tenants: only
        # test_ingest.py (a database of its own) consumes the ingest topics.
        "INGEST_ENABLED": "false",
    }


@pytest.fixture
async def db(database_name: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URI)
    yield client[database_name]
    await client.close()


@pytest.fixture
async def own_db(database_name: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database for one test alone, dropped after it. Cron tests take one: a cron works on every tenant of
    its database, and the session's database holds every other test's tenants."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URI)
    database = client[f"{database_name}_{uuid.uuid4().hex[:6]}"]
    yield database
    await client.drop_database(database.name)
    await client.close()


@pytest.fixture(scope="session", autouse=True)
def _drop_database(database_name: str) -> Iterator[None]:
    yield
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]]
    with MongoClient(MONGODB_URI) as client:
        client.drop_database(database_name)


@pytest.fixture(scope="module", autouse=True)
def _fresh_streams() -> None:
    """Every test starts apps under new app ids, and a new consumer group reads a Redis stream from its start
    (Dapr creates groups at "0"): without a trim, each module would first replay every event the modules before
    it published. `make test` sets LEMO_TEST_TRIM_STREAMS=1 (modules run one after another there); a shared
    development setup leaves it unset, since trimming under another run's consumers would lose their messages."""
    if os.environ.get("LEMO_TEST_TRIM_STREAMS") != "1":
        return
    for topic in (EVENTS_TOPIC, EVENTS_DEAD_LETTER_TOPIC, EXPOSURES_TOPIC, ITEMS_TOPIC, MODELS_TOPIC):
        subprocess.run(
            ["redis-cli", "-p", str(INFRA["redis"]), "XTRIM", topic, "MAXLEN", "0"],
            capture_output=True,
            check=False,
            timeout=10,
        )


@pytest.fixture
def tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def bare_sidecar() -> Iterator[App]:
    """A sidecar with no app, for calling building blocks (state) directly."""
    app = App(app_id=f"it-bare-{uuid.uuid4().hex[:6]}", command=None).start()
    yield app
    app.stop()


def unique(app_id: str) -> str:
    return f"{app_id}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def gateway_mesh(app_env: dict[str, str]) -> Iterator[App]:
    """The gateway with catalog, profiles, events and trainer behind it (as tests/integration/test_public_api.py),
    for the OpenAPI contract test (test_openapi_contract.py); recall, ranking, rerank and feeds are left out, so the
    read path runs on its degraded fallbacks."""
    backends: dict[str, App] = {}
    try:
        for name in ("catalog", "profiles", "events", "trainer"):
            backends[name] = App(unique(name), uvicorn(f"apps.{name}.main"), env=app_env).start()
        env = {
            **app_env,
            "LEMO_ADMIN_KEY": ADMIN_KEY,
            **{f"GATEWAY_{name.upper()}_APP": app.app_id for name, app in backends.items()},
            "GATEWAY_MESH_APPS": json.dumps([app.app_id for app in backends.values()]),  # /v1/status checks these
        }
        backends["gateway"] = App(unique("gateway"), uvicorn("apps.gateway.main"), env=env).start()
        yield backends["gateway"]
    finally:
        for app in backends.values():
            app.stop()
