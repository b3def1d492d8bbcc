// Overview: the tenant's size, events per minute (live), the active model versions, each app's health.
import * as api from "../api.js";
import { card, chart, h, num, table, when } from "../ui.js";

const MINUTES = 15;
const REFRESH_MS = 5000;

async function eventsPerMinute() {
  const now = Math.floor(Date.now() / 60000) * 60;
  const starts = Array.from({ length: MINUTES }, (_, i) => now - (MINUTES - 1 - i) * 60);
  const windows = await Promise.all(starts.map((s) => api.get("/v1/events/stats", { since: s, until: s + 60 })));
  return { starts, totals: windows.map((w) => w.total) };
}

function stat(label, value, testid) {
  return h("div", { class: "card stat" }, h("div", { class: "n", testid }, value), h("div", { class: "l" }, label));
}

function healthTable(status) {
  const rows = Object.entries(status.apps).map(([app, s]) => ({ app, ...s }));
  return table(
    [
      { label: "name", value: (r) => r.app },
      { label: "app", value: (r) => h("span", { class: r.ok ? "ok" : "bad" }, r.ok ? "healthy" : "down") },
      { label: "sidecar", value: (r) => (r.sidecar === undefined || r.sidecar === null
        ? h("span", { class: "warn" }, "no answer")
        : h("span", { class: r.sidecar ? "ok" : "bad" }, r.sidecar ? "up" : "down")) },
      { label: "ms", value: (r) => num(r.ms, 1) },
      { label: "version", value: (r) => r.version || "–" },
      { label: "error", value: (r) => h("span", { class: "muted mono" }, r.error || "") },
    ],
    rows,
    { testid: "health" },
  );
}

function modelsTable(models) {
  const active = models.versions.filter((v) => v.status === "active");
  return table(
    [
      { label: "kind", value: (v) => v.kind },
      { label: "version", value: (v) => `v${v.version}` },
      { label: "holdout", value: (v) => Object.entries(v.metrics).filter(([k]) => k === "ndcg@10" || k === "auc").map(([k, x]) => `${k} ${x.toFixed(4)}`).join(" ") },
      { label: "serves", value: (v) => v.serves || "" },
      { label: "active since", value: (v) => when(v.activated_at) },
    ],
    active,
    { testid: "active-models", empty: "no active model: train one on the Models page" },
  );
}

export async function render(root) {
  const [me, models, status] = await Promise.all([
    api.get("/v1/tenant"),
    api.get("/v1/models"),
    api.request("GET", "/v1/status", { accept: [503] }),
  ]);
  const lastMinute = h("span", {}, "…");
  const stats = h("div", { class: "stats" },
    stat("items", num(me.items), "stat-items"),
    stat("users", num(me.users), "stat-users"),
    stat("events in the last minute (live)", lastMinute, "stat-events"),
    stat("active model versions", num(Object.keys(models.active).length), "stat-models"));
  const epm = chart({
    type: "bar",
    data: { labels: [], datasets: [{ label: "events per minute (event time)", data: [], backgroundColor: "#2f6fdb" }] },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  }, "events-chart");
  const healthBox = h("div", {}, healthTable(status));
  root.append(
    h("h1", {}, `Overview: ${me.tenant_id}`),
    stats,
    h("div", { class: "cols2" },
      card(`Events per minute, last ${MINUTES} minutes`, epm, h("p", { class: "muted" }, "refreshes every 5 s; counted as the archive takes each event once")),
      card("Health", h("p", { class: "muted" }, "each app's /healthz, asked through the gateway's sidecar and its own; when the app does not answer, whether its sidecar did"), healthBox)),
    card("Active model versions", modelsTable(models)),
  );

  let stopped = false;
  async function refresh() {
    try {
      const { starts, totals } = await eventsPerMinute();
      lastMinute.textContent = num(totals[totals.length - 1]);
      epm.dataset.total = String(totals.reduce((a, b) => a + b, 0));
      if (epm.chart) {
        epm.chart.data.labels = starts.map((s) => when(s).slice(11, 16));
        epm.chart.data.datasets[0].data = totals;
        epm.chart.update();
      }
      const fresh = await api.request("GET", "/v1/status", { accept: [503] }).catch(() => null);
      if (fresh) healthBox.replaceChildren(healthTable(fresh));
    } catch (err) {
      lastMinute.textContent = err.message;
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }
  let timer = null;
  await refresh();
  return () => { stopped = true; clearTimeout(timer); };
}
