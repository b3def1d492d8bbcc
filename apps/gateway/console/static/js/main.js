// The console's shell: log in, the tenant picker for the admin key, and hash routes to the pages.
import * as api from "./api.js";
import { errorBox, h } from "./ui.js";
import * as overview from "./pages/overview.js";
import * as data from "./pages/data.js";
import * as tryIt from "./pages/try.js";
import * as models from "./pages/models.js";
import * as scenarios from "./pages/scenarios.js";
import * as experiments from "./pages/experiments.js";

const PAGES = { overview, data, try: tryIt, models, scenarios, experiments };
let cleanup = null;

function $(id) { return document.getElementById(id); }

async function showLogin(message = "") {
  $("top").hidden = true;
  $("page").replaceChildren();
  $("login").hidden = false;
  $("login-error").textContent = message;
}

async function fillTenantPicker() {
  const picker = $("tenant-picker");
  picker.hidden = !api.isAdmin();
  if (!api.isAdmin()) return;
  const { tenants } = await api.request("GET", "/v1/admin/tenants", { tenant: null });
  picker.replaceChildren(...tenants.map((t) => h("option", { value: t.tenant_id }, t.name ? `${t.tenant_id} (${t.name})` : t.tenant_id)));
  picker.value = api.currentTenant();
}

async function route() {
  if (!api.loggedIn()) return showLogin();
  $("login").hidden = true;
  $("top").hidden = false;
  $("who").textContent = `${api.isAdmin() ? "admin as " : ""}${api.currentTenant()}`;
  const name = (window.location.hash.replace(/^#\//, "").split("?")[0]) || "overview";
  const page = PAGES[name] || overview;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.getAttribute("href") === `#/${name}`);
  if (cleanup) { cleanup(); cleanup = null; }
  const root = h("div", { testid: `page-${name}` });
  $("page").replaceChildren(root);
  try {
    cleanup = (await page.render(root)) || null;
  } catch (err) {
    if (err instanceof api.ApiError && err.status === 401) { api.logout(); return showLogin("the key was refused"); }
    root.append(errorBox(err));
  }
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("login-key").value.trim();
  try {
    const who = await api.identify(key);
    if (who.admin) {
      if (!who.tenants.length) throw new Error("no tenants yet: create one with POST /v1/admin/tenants");
      api.setSession(key, true, who.tenants[0].tenant_id);
    } else {
      api.setSession(key, false, who.tenant);
    }
    $("login-key").value = "";
    await fillTenantPicker();
    if (!window.location.hash) window.location.hash = "#/overview"; else await route();
  } catch (err) {
    $("login-error").textContent = err instanceof api.ApiError && err.status === 401 ? "unknown key" : err.message;
  }
});

$("tenant-picker").addEventListener("change", async (event) => {
  api.pickTenant(event.target.value);
  await route();
});

$("logout").addEventListener("click", () => { api.logout(); if (cleanup) cleanup(); cleanup = null; showLogin(); });

window.addEventListener("hashchange", route);
if (api.loggedIn()) fillTenantPicker().then(route, () => { api.logout(); showLogin(); }); else showLogin();
