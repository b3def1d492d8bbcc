"""The operator console (apps/gateway/console) in headless Chromium against the real mesh: every app with its
sidecar, a tenant with MovieLens sample data and trained models. Logging in with a tenant key and with the admin
key, every page showing the tenant's own data, a scenario edited (validation errors inline, then the change
served), a training run started and followed, a version activated and rolled back, two variants side by side.
Also the API routes the console added: tenants for the admin key (explicit X-Tenant-Id, tested both ways), user
search and activity, item search, counts, variant previews; a tenant key never reaches another tenant.

Screenshots go to docs/console/ with LEMO_CONSOLE_SCREENSHOTS=1 (docs/console.md shows them), else to a temporary
folder."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from lemo.scenarios import default_scenario
from tests.integration.console_mesh import ADMIN_KEY, base_url, new_tenant, start_mesh, stop_mesh, trained_tenant, until
from tests.integration.mesh import ROOT, App

CHROMIUM = Path(os.environ.get("LEMO_CHROMIUM", "/usr/bin/chromium"))

expect.set_options(timeout=30_000)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: scripts/install-console.sh installs Debian's chromium"
)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("LEMO_CONSOLE_SCREENSHOTS") == "1":
        folder = ROOT / "docs" / "console"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("console")


@pytest.fixture(scope="module")
def mesh(app_env: dict[str, str], artifacts: Path) -> Iterator[dict[str, App]]:
    apps = start_mesh(app_env, artifacts)
    yield apps
    stop_mesh(apps)


@pytest.fixture(scope="module")
async def trained(mesh: dict[str, App], database_name: str, artifacts: Path) -> tuple[str, str, httpx.Client]:
    return await trained_tenant(mesh, database_name, artifacts)


# --- the API routes the console reads ------------------------------------------------------------------------


def test_admin_key_reaches_a_tenant_only_by_naming_it(
    mesh: dict[str, App], trained: tuple[str, str, httpx.Client]
) -> None:
    tenant, key, _ = trained
    other, other_key = new_tenant(mesh)
    admin = httpx.Client(base_url=base_url(mesh), headers={"X-Admin-Key": ADMIN_KEY}, timeout=30)

    listed = [t["tenant_id"] for t in admin.get("/v1/admin/tenants").json()["tenants"]]
    assert {tenant, other} <= set(listed) and listed == sorted(listed)
    tenant_key = httpx.Client(base_url=base_url(mesh), headers={"X-API-Key": key}, timeout=30)
    assert tenant_key.get("/v1/admin/tenants").json()["error"]["code"] == "invalid_admin_key"

    # Without X-Tenant-Id the admin key reads no tenant's data; with it, exactly that tenant's.
    assert admin.get("/v1/items").json()["error"]["code"] == "missing_tenant"
    assert admin.get("/v1/items", headers={"X-Tenant-Id": "nosuchtenant"}).status_code == 404
    as_tenant = admin.get("/v1/tenant", headers={"X-Tenant-Id": tenant}).json()
    assert as_tenant["tenant_id"] == tenant and as_tenant["users"] == 40 and as_tenant["items"] > 100
    assert admin.get("/v1/tenant", headers={"X-Tenant-Id": other}).json() | {"scopes": []} == {
        "tenant_id": other,
        "name": "",
        "scopes": [],
        "items": 0,
        "users": 0,
    }
    bad_admin = admin.get("/v1/items", headers={"X-Admin-Key": "wrong", "X-Tenant-Id": tenant})
    assert bad_admin.status_code == 401

    # A tenant key naming another tenant is refused, never redirected; its own data stays its own.
    outsider = httpx.Client(base_url=base_url(mesh), headers={"X-API-Key": other_key}, timeout=30)
    refused = outsider.get("/v1/users", headers={"X-Tenant-Id": tenant})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "tenant_mismatch"
    assert outsider.get("/v1/users", params={"total": "true"}).json() == {"users": [], "next": None, "total": 0}
    assert outsider.get("/v1/items", params={"q": "Star", "total": "true"}).json()["total"] == 0
    assert outsider.get("/v1/users/1/activity").json() == {"user_id": "1", "events": [], "exposures": []}


def test_search_counts_and_activity(trained: tuple[str, str, httpx.Client]) -> None:
    _, _, api = trained
    users = api.get("/v1/users", params={"q": "1", "total": "true", "limit": 5}).json()
    assert users["total"] == 11  # 1 and 10..19
    assert [u["user_id"] for u in users["users"]] == ["1", "10", "11", "12", "13"] and users["next"] == "13"
    after = api.get("/v1/users", params={"q": "1", "after": "13"}).json()["users"]
    assert [u["user_id"] for u in after] == ["14", "15", "16", "17", "18", "19"]
    assert api.get("/v1/users", params={"q": "bad id!"}).status_code == 422

    items = api.get("/v1/items", params={"q": "star wars", "total": "true"}).json()
    assert items["total"] >= 1 and all("star wars" in i["title"].lower() for i in items["items"])
    by_id = api.get("/v1/items", params={"q": "50", "total": "true"}).json()
    assert any(i["item_id"] == "50" for i in by_id["items"])
    assert api.get("/v1/items", params={"q": "(["}).status_code == 200  # a regex metacharacter is literal

    served = api.get("/v1/users/1/recommendations", params={"count": 5}).json()

    def activity() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get("/v1/users/1/activity", params={"limit": 5}).json()
        return body if any(x["request_id"] == served["request_id"] for x in body["exposures"]) else None

    body = until(activity)
    assert body is not None, "the served list never reached the user's activity"
    shown = next(x for x in body["exposures"] if x["request_id"] == served["request_id"])
    assert shown["items"] == [i["item_id"] for i in served["items"]] and shown["scenario"] == "home"
    assert len(body["events"]) == 5 and [e["item_id"] for e in body["events"][:3]] == ["50", "181", "258"]
    stamps = [e["timestamp"] for e in body["events"]]
    assert stamps == sorted(stamps, reverse=True)
    assert api.get("/v1/users/1/activity", params={"limit": 0}).status_code == 422


def test_preview_forces_a_variant_and_is_not_served(trained: tuple[str, str, httpx.Client]) -> None:
    _, _, api = trained
    scenario = default_scenario("preview-test").model_dump(mode="json", by_alias=True)
    for channel in scenario["channels"]:
        channel["deadline_ms"] = 1000
    scenario["experiments"] = [
        {
            "experiment_id": "rk",
            "variants": [
                {"variant_id": "control", "traffic": 50},
                {"variant_id": "treatment", "traffic": 50, "overrides": {"ranker": "random", "default_count": 4}},
            ],
        }
    ]
    assert api.put("/v1/scenarios/preview-test", json=scenario).status_code == 201
    for variant, ranker, count in (("control", "fusion", 10), ("treatment", "random", 4)):
        body = api.get("/v1/preview", params={"user_id": "2", "scenario": "preview-test", "variant": variant}).json()
        assert body["preview"] and body["variant"] == variant and body["experiment"] == "rk"
        assert body["debug"]["ranker"]["requested"] == ranker and len(body["items"]) == count
    unknown = api.get("/v1/preview", params={"user_id": "2", "scenario": "preview-test", "variant": "nope"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_variant"
    no_experiment = api.get("/v1/preview", params={"user_id": "2", "scenario": "home", "variant": "control"})
    assert no_experiment.json()["error"]["code"] == "unknown_variant"
    assert api.get("/v1/preview", params={"user_id": "2", "scenario": "nosuch"}).status_code == 404
    # Previews are not served lists: user 2's activity never shows one for this scenario.
    time.sleep(2)
    shown = api.get("/v1/users/2/activity").json()["exposures"]
    assert not [x for x in shown if x["scenario"] == "preview-test"]


# --- the console in the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    # A script error or a refused resource (a CDN, a blocked script) fails the test; an API's 4xx (a wrong key, a
    # run the trainer has no record of, a validation error) or /v1/status's 503 (an app down) is an answer the page
    # shows.
    assert not [e for e in errors if not re.search(r"responded with a status of (4\d\d|503)", e)], errors


def _login(page: Page, mesh: dict[str, App], key: str) -> None:
    page.goto(f"{base_url(mesh)}/console")
    page.get_by_test_id("login-key").fill(key)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("page-overview")).to_be_visible()


def _shot(page: Page, shots: Path, name: str) -> None:
    page.wait_for_timeout(300)  # let charts draw
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_console_is_served_from_the_mesh_with_nothing_from_elsewhere(mesh: dict[str, App]) -> None:
    resp = httpx.get(f"{base_url(mesh)}/console", timeout=10)
    assert resp.status_code == 200 and "default-src 'self'" in resp.headers["content-security-policy"]
    assets = [src for src in re.findall(r'(?:src|href)="([^"#][^"]*)"', resp.text) if src != "data:,"]
    assert len(assets) == 3, assets  # the stylesheet, chart.js and the app's entry module
    for src in assets:
        assert src.startswith("/console/"), src  # no other host
        assert httpx.get(f"{base_url(mesh)}{src}", timeout=10).status_code == 200, src
    assert httpx.get(f"{base_url(mesh)}/console/static/js/nosuch.js", timeout=10).status_code == 404


def test_login_and_overview(
    page: Page, mesh: dict[str, App], trained: tuple[str, str, httpx.Client], shots: Path
) -> None:
    tenant, key, api = trained
    page.goto(f"{base_url(mesh)}/console")
    page.get_by_test_id("login-key").fill("lemo_wrong_key")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).not_to_be_empty()
    _shot(page, shots, "login")

    _login(page, mesh, key)
    expect(page.get_by_test_id("who")).to_have_text(tenant)
    expect(page.get_by_test_id("stat-users")).to_have_text("40")
    expect(page.get_by_test_id("stat-models")).not_to_have_text("0")
    # Events sent now (event time now) join the live chart once the archive has counted them.
    chart = page.get_by_test_id("events-chart")
    expect(chart).to_have_attribute("data-total", re.compile(r"^\d+$"))
    before = int(chart.get_attribute("data-total") or "0")
    events = [{"user_id": "2", "item_id": "50", "type": "view", "timestamp": time.time()} for _ in range(4)]
    assert api.post("/v1/events/batch", json={"events": events}).json()["accepted"] == 4
    assert until(lambda: int(chart.get_attribute("data-total") or "0") >= before + 4), "the live count never moved"
    health = page.get_by_test_id("health")
    expect(health.locator("tr", has_text=mesh["recall"].app_id)).to_contain_text("healthy")
    expect(health.locator("tr", has_text=mesh["trainer"].app_id)).to_contain_text("healthy")
    expect(page.get_by_test_id("active-models")).to_contain_text("fusion")
    _shot(page, shots, "overview")


def test_data_page_searches_and_shows_a_user(
    page: Page, mesh: dict[str, App], trained: tuple[str, str, httpx.Client], shots: Path
) -> None:
    _, key, api = trained
    served = api.get("/v1/users/1/recommendations", params={"count": 5}).json()
    until(lambda: api.get("/v1/users/1/activity").json()["exposures"])
    _login(page, mesh, key)
    page.goto(f"{base_url(mesh)}/console#/data")
    page.get_by_test_id("items-q").fill("star wars")
    page.get_by_test_id("items-search").click()
    expect(page.get_by_test_id("items-table")).to_contain_text("Star Wars")
    page.get_by_test_id("users-q").fill("1")
    page.get_by_test_id("users-search").click()
    expect(page.get_by_test_id("users-total")).to_contain_text("11 users")
    page.get_by_test_id("users-table").locator("tr", has_text="gender").first.click()
    expect(page.get_by_test_id("user-title")).to_have_text("User 1")
    expect(page.get_by_test_id("user-recent-items")).to_contain_text("50")
    expect(page.get_by_test_id("user-type-counts")).to_contain_text("click")
    expect(page.get_by_test_id("user-events")).to_contain_text("click")
    expect(page.get_by_test_id("user-exposures")).to_contain_text(served["request_id"][:12])
    _shot(page, shots, "data")


def test_edit_a_scenario_then_see_it_served(
    page: Page, mesh: dict[str, App], trained: tuple[str, str, httpx.Client], shots: Path
) -> None:
    _, key, api = trained
    _login(page, mesh, key)
    page.goto(f"{base_url(mesh)}/console#/scenarios?id=home")
    # An invalid quota: the API's error shows next to that field, and nothing is saved.
    page.get_by_test_id("f-channels.0.quota").fill("0")
    page.get_by_test_id("save-form").click()
    expect(page.get_by_test_id("save-error")).to_contain_text("invalid_request")
    expect(page.get_by_test_id("field-error").first).to_contain_text("channels.0.quota")
    expect(page.get_by_test_id("f-channels.0.quota")).to_have_class(re.compile("invalid"))
    _shot(page, shots, "scenario-error")
    assert api.get("/v1/scenarios/home").json()["channels"][0]["quota"] == 150

    page.get_by_test_id("f-channels.0.quota").fill("120")
    page.get_by_test_id("f-default_count").fill("6")
    page.get_by_test_id("save-form").click()
    expect(page.get_by_test_id("saved")).to_be_visible()
    saved = api.get("/v1/scenarios/home").json()
    assert saved["default_count"] == 6 and saved["channels"][0]["quota"] == 120

    # An experiment through the JSON editor, with a split that does not add up first.
    doc = {**saved}
    doc["experiments"] = [
        {
            "experiment_id": "ranker-test",
            "variants": [
                {"variant_id": "control", "traffic": 50},
                {"variant_id": "treatment", "traffic": 40, "overrides": {"ranker": "random"}},
            ],
        }
    ]
    page.get_by_test_id("scenario-json").fill(json.dumps(doc, indent=2))
    page.get_by_test_id("save-json").click()
    expect(page.get_by_test_id("save-status")).to_contain_text("must sum to 100")
    doc["experiments"][0]["variants"][1]["traffic"] = 50
    page.get_by_test_id("scenario-json").fill(json.dumps(doc, indent=2))
    page.get_by_test_id("save-json").click()
    expect(page.get_by_test_id("traffic-ranker-test")).to_contain_text("treatment")
    _shot(page, shots, "scenarios")

    # Served: the list now has the scenario's new default length, and names its variant.
    page.goto(f"{base_url(mesh)}/console#/try")
    page.get_by_test_id("try-scenario").select_option("home")
    page.get_by_test_id("try-user").fill("3")
    page.get_by_test_id("try-go").click()
    expect(page.get_by_test_id("result-items").locator("tbody tr")).to_have_count(6)
    expect(page.get_by_test_id("result-variant")).to_have_text(re.compile("control|treatment"))
    expect(page.get_by_test_id("result-channels")).to_contain_text("item_cf")
    expect(page.get_by_test_id("timings")).to_contain_text("recall")
    _shot(page, shots, "try-it")

    page.get_by_test_id("compare-go").click()
    panes = page.get_by_test_id("compare-panes")
    expect(panes).to_contain_text("variant control")
    expect(panes).to_contain_text("variant treatment")
    expect(panes.get_by_test_id("ranker").nth(1)).to_contain_text("random")
    _shot(page, shots, "try-it-variants")


def test_train_watch_progress_activate_and_roll_back(
    page: Page, mesh: dict[str, App], trained: tuple[str, str, httpx.Client], shots: Path
) -> None:
    tenant, key, api = trained
    _login(page, mesh, key)
    page.goto(f"{base_url(mesh)}/console#/models")
    expect(page.get_by_test_id("versions")).to_contain_text("item_cf")
    page.get_by_test_id("train-kinds").fill("popular,item_cf")
    page.get_by_test_id("train-policy").select_option("manual")
    page.get_by_test_id("train-start").click()
    expect(page.get_by_test_id("run-view")).to_be_visible()
    expect(page.get_by_test_id("runs")).to_contain_text(f"train-{tenant}-")
    expect(page.get_by_test_id("run-status")).to_have_text("COMPLETED", timeout=150_000)
    expect(page.get_by_test_id("run-models")).to_contain_text("candidate")
    _shot(page, shots, "models-run")

    page.reload()
    expect(page.get_by_test_id("activate-item_cf-2")).to_be_visible()
    page.get_by_test_id("activate-item_cf-2").click()
    expect(page.get_by_test_id("models-message")).to_contain_text("item_cf v2 now serves")
    assert api.get("/v1/models", params={"kind": "item_cf"}).json()["active"] == {"item_cf": 2}
    expect(page.get_by_test_id("rollback-item_cf")).to_be_visible()
    expect(page.get_by_test_id("rollback-als")).to_have_count(0)  # no earlier version to go back to
    expect(page.get_by_test_id("metrics-chart")).to_be_visible()
    _shot(page, shots, "models")
    page.get_by_test_id("rollback-item_cf").click()
    expect(page.get_by_test_id("models-message")).to_contain_text("item_cf v1 now serves")
    assert api.get("/v1/models", params={"kind": "item_cf"}).json()["active"] == {"item_cf": 1}


def _table(page: Page, testid: str) -> list[dict[str, str]]:
    """A console table as rows of {column label: cell text}."""
    table = page.get_by_test_id(testid)
    labels = [t.strip().lower() for t in table.locator("thead th").all_inner_texts()]
    return [
        dict(zip(labels, (c.strip() for c in row.locator("td").all_inner_texts()), strict=False))
        for row in table.locator("tbody tr").all()
    ]


def test_experiment_readout_updates_after_clicks(
    page: Page, mesh: dict[str, App], trained: tuple[str, str, httpx.Client], shots: Path
) -> None:
    _, key, api = trained
    home = api.get("/v1/scenarios/home").json()
    home["experiments"] = [
        {
            "experiment_id": "ranker-test",
            "variants": [
                {"variant_id": "control", "traffic": 50},
                {"variant_id": "treatment", "traffic": 50, "overrides": {"ranker": "random"}},
            ],
        }
    ]
    assert api.put("/v1/scenarios/home", json=home).status_code == 200
    served = [api.get(f"/v1/users/{u}/recommendations", params={"count": 5}).json() for u in range(20, 32)]
    assert {s["variant"] for s in served} == {"control", "treatment"}

    _login(page, mesh, key)
    page.goto(f"{base_url(mesh)}/console#/experiments")
    expect(page.get_by_test_id("experiments-table")).to_contain_text("ranker-test")
    page.get_by_test_id("window").select_option("last hour")  # per minute

    def readout() -> dict[str, dict[str, str]]:
        page.get_by_test_id("refresh").click()
        page.wait_for_timeout(500)
        return {row["variant"].split(" ")[0]: row for row in _table(page, "readout-table")}

    def lists_in(rows: dict[str, dict[str, str]]) -> int:
        return sum(int(r["lists"].replace(",", "")) for r in rows.values())

    before = readout()
    clicks_before = {v: int(r["clicks"].replace(",", "")) for v, r in before.items()}
    # Clicks on half of the lists, each echoing its list's request id: counted for that list's variant.
    clicked = served[::2]
    events = [
        {
            "user_id": s["user_id"],
            "item_id": s["items"][0]["item_id"],
            "type": "click",
            "scenario": "home",
            "context": {"request_id": s["request_id"]},
        }
        for s in clicked
    ]
    assert api.post("/v1/events/batch", json={"events": events}).json()["accepted"] == len(events)
    want = {v: clicks_before.get(v, 0) + sum(1 for s in clicked if s["variant"] == v) for v in ("control", "treatment")}

    def updated() -> dict[str, dict[str, str]] | None:
        rows = readout()
        got = {v: int(rows[v]["clicks"].replace(",", "")) for v in want if v in rows}
        return rows if got == want and lists_in(rows) >= lists_in(before) else None

    rows = until(updated, timeout_s=60, every_s=1)
    assert rows, f"the readout never showed {want}: {readout()}"
    assert all("%" in rows[v]["ctr per list"] for v in want)
    expect(page.get_by_test_id("readout-chart")).to_be_visible()
    expect(page.get_by_test_id("verdict").first).to_contain_text("not enough data")

    # The headline table reads the same counters: it agrees once refreshed.
    def headline_clicks() -> dict[str, int]:
        readout()
        clicks: dict[str, int] = {}
        experiment = ""
        for row in _table(page, "experiments-table"):
            experiment = row["scenario / experiment"] or experiment
            if experiment == "home / ranker-test":
                clicks[row["variant"]] = int(row["clicks"].replace(",", ""))
        return clicks

    assert until(lambda: headline_clicks() == want, timeout_s=30, every_s=1), headline_clicks()
    _shot(page, shots, "experiments")


def test_admin_sees_every_tenant_and_picks_one(
    page: Page, mesh: dict[str, App], trained: tuple[str, str, httpx.Client], shots: Path
) -> None:
    tenant, _, _ = trained
    new_tenant(mesh, "Another shop")
    _login(page, mesh, ADMIN_KEY)
    picker = page.get_by_test_id("tenant-picker")
    expect(picker).to_be_visible()
    expect(picker.locator("option", has_text="Another shop")).to_have_count(1)
    picker.select_option(tenant)
    expect(page.get_by_test_id("who")).to_have_text(f"admin as {tenant}")
    expect(page.get_by_test_id("stat-users")).to_have_text("40")
    _shot(page, shots, "admin")


def test_health_tells_an_app_down_from_its_sidecar_down(
    page: Page, mesh: dict[str, App], trained: tuple[str, str, httpx.Client], shots: Path
) -> None:
    """Runs last in this module: it stops the rerank app, then its sidecar."""
    _, key, _ = trained
    _login(page, mesh, key)
    rerank = mesh["rerank"]
    row = page.get_by_test_id("health").locator("tr", has_text=rerank.app_id)
    expect(row).to_contain_text("healthy")
    rerank.kill_app()
    cells = row.locator("td")
    expect(cells.nth(1)).to_have_text("down")  # refreshed every 5 s
    expect(cells.nth(2)).to_have_text("up")
    _shot(page, shots, "overview-app-down")
    rerank.stop()
    expect(cells.nth(2)).to_have_text("down", timeout=60_000)
    expect(page.get_by_test_id("health").locator("tr", has_text=mesh["catalog"].app_id)).to_contain_text("healthy")
