"""`LemoClient`: the public HTTP API from blocking code (scripts, notebooks, the `lemo` command line).

    with LemoClient("http://127.0.0.1:8080", api_key=key) as lemo:
        lemo.upsert_items(rows)                     # NDJSON, in retried chunks
        lemo.track({"user_id": "u1", "item_id": "i1", "type": "click"})
        for item in lemo.iter_items(category="books"):
            ...
        top = lemo.recommend("u1", count=10)

Errors are typed exceptions (lemo_client.errors); safe calls are retried (lemo_client.request). The async twin,
`AsyncLemoClient`, has the same methods, awaited.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, cast

import httpx

from lemo_client import operations as op
from lemo_client.errors import Conflict, LemoError, TransportFailure
from lemo_client.request import DEFAULT_TIMEOUT_S, Call, Keys, RetryPolicy, build, call, decode, retrying
from lemo_client.types import BatchResult, EventBatchResult, ItemPage, Recommendations, UserPage

Row = op.Row


class LemoClient:
    """A client of one gateway, with a tenant's API key (most calls) and/or the admin key (/v1/admin).
    `transport` replaces the network (httpx.MockTransport in tests); `retry` the retry policy."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        admin_key: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        *,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport)
        self._keys = Keys(api_key, admin_key)
        self.retry = retry or RetryPolicy()

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    @property
    def api_key(self) -> str | None:
        return self._keys.api_key

    @api_key.setter
    def api_key(self, key: str | None) -> None:
        self._keys.api_key = key

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LemoClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, sent: Call) -> Any:
        """Sends one Call (retried as its policy allows) and returns the answer's JSON; the methods below are
        this with the Call of their operation."""
        try:
            for attempt in retrying(self.retry, sent):
                with attempt:
                    return decode(self._http.send(build(self._http, self._keys, sent)))
        except httpx.TransportError as exc:
            raise TransportFailure(sent.method, sent.path, exc) from exc
        raise AssertionError("unreachable: tenacity reraises the last failure")

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None) -> Any:
        """Any endpoint by path (`/v1/...`), for those without a method here; retried only if idempotent."""
        return self.send(call(method, path, params=params, json=json))

    # Recommendations

    def recommend(
        self,
        user_id: str,
        *,
        count: int | None = None,
        scenario: str | None = None,
        mode: str | None = None,
        debug: bool = False,
    ) -> Recommendations:
        """The user's recommendations in a scenario (default: the tenant's default), served `mode`
        ("online", "cached" or "workflow"); `debug=True` adds timings, sources and rule effects."""
        return cast(Recommendations, self.send(op.recommend(user_id, scenario, count, mode, debug)))

    def similar_items(self, item_id: str, count: int = 10) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.similar_items(item_id, count)))

    def popular_items(self, count: int = 10) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.popular_items(count)))

    # Items

    def create_item(self, item: Row) -> dict[str, Any]:
        """Creates one item (Conflict if its id exists; `put_item` upserts)."""
        return cast(dict[str, Any], self.send(op.create_item(item)))

    def get_item(self, item_id: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.get("items", item_id)))

    def put_item(self, item_id: str, fields: Row) -> dict[str, Any]:
        """Creates or replaces the item."""
        return cast(dict[str, Any], self.send(op.put("items", item_id, fields)))

    def update_item(self, item_id: str, fields: Row) -> dict[str, Any]:
        """Changes only the fields given."""
        return cast(dict[str, Any], self.send(op.patch("items", item_id, fields)))

    def delete_item(self, item_id: str) -> None:
        self.send(op.delete("items", item_id))

    def list_items(
        self, *, after: str | None = None, limit: int = 100, total: bool = False, **filters: Any
    ) -> ItemPage:
        """One page of items (filters: category, tag, hidden, q); pass its `next` as `after` for the next."""
        return cast(ItemPage, self.send(op.page("items", after, limit, total, filters)))

    def iter_items(self, *, page_size: int = 1000, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every item matching the filters, page after page."""
        after = None
        while True:
            page = self.list_items(after=after, limit=page_size, **filters)
            yield from page["items"]
            if not (after := page["next"]):
                return

    def upsert_items(self, items: Iterable[Row], *, chunk_rows: int = 5000) -> BatchResult:
        """Upserts items by id as NDJSON, `chunk_rows` a request (each retried as a whole); errors' `line`
        counts over all the items given."""
        return self._upsert("items", items, chunk_rows)

    def stream_items(self, items: Iterable[Row]) -> BatchResult:
        """Upserts items as one NDJSON request written while `items` is read (constant memory; not retried)."""
        return cast(BatchResult, self.send(op.upsert_stream("items", items)))

    # Users

    def get_user(self, user_id: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.get("users", user_id)))

    def get_users(self, user_ids: Iterable[str]) -> dict[str, Any]:
        """Up to 500 users in one call."""
        return cast(dict[str, Any], self.send(op.get_users(user_ids)))

    def put_user(self, user_id: str, fields: Row) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.put("users", user_id, fields)))

    def update_user(self, user_id: str, fields: Row) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.patch("users", user_id, fields)))

    def delete_user(self, user_id: str) -> None:
        self.send(op.delete("users", user_id))

    def list_users(
        self, *, after: str | None = None, limit: int = 100, total: bool = False, q: str | None = None
    ) -> UserPage:
        return cast(UserPage, self.send(op.page("users", after, limit, total, {"q": q})))

    def iter_users(self, *, page_size: int = 1000, q: str | None = None) -> Iterator[dict[str, Any]]:
        after = None
        while True:
            page = self.list_users(after=after, limit=page_size, q=q)
            yield from page["users"]
            if not (after := page["next"]):
                return

    def upsert_users(self, users: Iterable[Row], *, chunk_rows: int = 5000) -> BatchResult:
        return self._upsert("users", users, chunk_rows)

    def stream_users(self, users: Iterable[Row]) -> BatchResult:
        return cast(BatchResult, self.send(op.upsert_stream("users", users)))

    def user_activity(self, user_id: str, limit: int = 20) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.user_activity(user_id, limit)))

    def realtime_features(self, user_id: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.realtime_features(user_id)))

    def _upsert(self, kind: str, rows: Iterable[Row], chunk_rows: int) -> BatchResult:
        result = op.empty_batch()
        for offset, chunk in op.chunks(rows, chunk_rows):
            result = op.merge(result, self.send(op.upsert_batch(kind, chunk)), offset)
        return result

    # Events

    def track(self, event: Row) -> dict[str, Any]:
        """Sends one event; an `event_id` is added when it has none, so a retried send counts once."""
        return cast(dict[str, Any], self.send(op.track(event)))

    def track_batch(self, events: Iterable[Row]) -> EventBatchResult:
        """Sends up to 1,000 events in one call; `results[i]` says what became of event i."""
        return cast(EventBatchResult, self.send(op.track_batch(events)))

    def event_stats(
        self, *, since: float | None = None, until: float | None = None, type: str | None = None
    ) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.event_stats(since, until, type)))

    # Models, feeds, scenarios, the tenant, the mesh

    def train_model(self, options: Row | None = None) -> str:
        """Starts a training run (options: kinds, policy, max_interactions, ...) and returns its id."""
        return str(self.send(op.train_model(options or {}))["run_id"])

    def training_run(self, run_id: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.training_run(run_id)))

    def model_versions(self, kind: str | None = None, limit: int = 100) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.model_versions(kind, limit)))

    def activate_model(self, kind: str, version: int) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.activate_model(kind, version)))

    def rollback_model(self, kind: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.rollback_model(kind)))

    def refresh_feeds(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.refresh_feeds()))

    def feeds_refresh_run(self, run_id: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.feeds_refresh_run(run_id)))

    def put_scenario(self, scenario_id: str, scenario: Row) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.scenario("PUT", scenario_id, scenario)))

    def get_scenario(self, scenario_id: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.scenario("GET", scenario_id)))

    def list_scenarios(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.scenario("GET")))

    def delete_scenario(self, scenario_id: str) -> None:
        self.send(op.scenario("DELETE", scenario_id))

    def tenant_summary(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.tenant_summary()))

    def status(self) -> dict[str, Any]:
        """Every app's health through its sidecar (no key needed); `healthy` is False if one is down."""
        return cast(dict[str, Any], self.status_response().json())

    def status_response(self) -> httpx.Response:
        """The status answer itself: a 503 still carries the per-app document."""
        sent = op.status()
        try:
            return self._http.send(build(self._http, self._keys, sent))
        except httpx.TransportError as exc:
            raise TransportFailure(sent.method, sent.path, exc) from exc

    # Administration (admin key)

    def create_tenant(self, tenant_id: str, name: str = "") -> dict[str, Any]:
        """Creates a tenant and its first key (in the answer's `api_key`); Conflict if it exists."""
        return cast(dict[str, Any], self.send(op.create_tenant(tenant_id, name)))

    def create_key(self, tenant_id: str, scopes: Iterable[str] | None = None) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.create_key(tenant_id, scopes)))

    def list_tenants(self, limit: int = 1000) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.list_tenants(limit)))

    def ensure_tenant(self, tenant_id: str, name: str = "") -> str:
        """Creates the tenant if needed, makes a fresh read+write key of it this client's key, and returns it."""
        if not self._keys.admin_key:
            raise LemoError("creating a tenant or key needs the admin key (LEMO_ADMIN_KEY)")
        try:
            answer = self.create_tenant(tenant_id, name)
        except Conflict:
            answer = self.create_key(tenant_id)
        self.api_key = str(answer["api_key"])
        return self.api_key

    def dead_letters(self, tenant_id: str | None = None, limit: int = 20) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.dead_letters(tenant_id, limit)))

    def replay_dead_letters(self, tenant_id: str | None = None, limit: int = 1000) -> dict[str, Any]:
        return cast(dict[str, Any], self.send(op.replay_dead_letters(tenant_id, limit)))


class ModelsApi:
    """The /v1/models calls of a LemoClient under short names (what `lemo train` follows a run with)."""

    def __init__(self, client: LemoClient) -> None:
        self._client = client

    def train(self, options: Row) -> str:
        return self._client.train_model(options)

    def run(self, run_id: str) -> dict[str, Any]:
        return self._client.training_run(run_id)

    def versions(self, kind: str | None = None) -> dict[str, Any]:
        return self._client.model_versions(kind)

    def activate(self, kind: str, version: int) -> dict[str, Any]:
        return self._client.activate_model(kind, version)

    def rollback(self, kind: str) -> dict[str, Any]:
        return self._client.rollback_model(kind)
