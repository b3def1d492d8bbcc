// Experiment results: every experiment's variants with CTR and its interval, the difference to control and the
// verdict (GET /v1/experiments); one experiment's full readout and its CTR over time per variant with 95% bands
// (GET /v1/scenarios/{id}/metrics). docs/experiments.md defines every number.
import * as api from "../api.js";
import { PALETTE, card, chart, errorBox, h, num, table, when } from "../ui.js";

const WINDOWS = {
  "last hour": { seconds: 3600, interval: "minute" },
  "last 24 hours": { seconds: 86400, interval: "hour" },
  "last 7 days": { seconds: 7 * 86400, interval: "hour" },
  "last 30 days": { seconds: 30 * 86400, interval: "day" },
};
const Z = 1.959964;

// The Wilson score interval of k successes in n, as the API computes it for its totals.
function wilson(k, n) {
  if (!n) return { value: null, low: null, high: null };
  const p = Math.min(k, n) / n;
  const d = 1 + (Z * Z) / n;
  const centre = (p + (Z * Z) / (2 * n)) / d;
  const half = (Z * Math.sqrt((p * (1 - p)) / n + (Z * Z) / (4 * n * n))) / d;
  return { value: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

function pct(x) { return x === null || x === undefined ? "–" : `${(100 * x).toFixed(2)}%`; }
function withInterval(m) { return m && m.value !== null ? `${pct(m.value)} [${pct(m.low)}, ${pct(m.high)}]` : "–"; }
function difference(vs) {
  if (!vs) return h("span", { class: "muted" }, "control");
  if (vs.difference === null) return h("span", {}, "– ", h("span", { class: "verdict muted", testid: "verdict" }, vs.verdict));
  const cls = { better: "ok", worse: "bad" }[vs.verdict] || "muted";
  return h("span", {}, `${vs.difference >= 0 ? "+" : ""}${pct(vs.difference)} [${pct(vs.low)}, ${pct(vs.high)}] `,
    h("span", { class: `verdict ${cls}`, testid: "verdict" }, vs.verdict));
}

function overviewTable(experiments, onOpen) {
  const rows = experiments.flatMap((e) => e.variants.map((v, i) => ({ e, v, first: i === 0 })));
  return table([
    { label: "scenario / experiment", value: (r) => (r.first ? h("b", {}, `${r.e.scenario} / ${r.e.experiment}${r.e.enabled ? "" : " (off)"}`) : "") },
    { label: "variant", value: (r) => r.v.variant },
    { label: "traffic", value: (r) => `${num(r.v.traffic, 1)}%` },
    { label: "lists", value: (r) => num(r.v.exposures) },
    { label: "clicks", value: (r) => num(r.v.clicks) },
    { label: "purchases", value: (r) => num(r.v.conversions) },
    { label: "CTR per list [95%]", value: (r) => withInterval(r.v.ctr_list) },
    { label: "vs control", value: (r) => difference(r.v.vs_control) },
  ], rows, { testid: "experiments-table", onClick: (r) => onOpen(r.e), empty: "no experiment yet: add one to a scenario" });
}

function cumulativeSeries(series) {
  let lists = 0; let items = 0; let clicks = 0;
  return series.map((b) => {
    lists += b.exposures; items += b.items_shown; clicks += b.clicks;
    return { start: b.start, lists, items, clicks, ctr: wilson(clicks, items) };
  });
}

function readout(metrics) {
  const rows = metrics.variants;
  const detail = table([
    { label: "variant", value: (v) => (v.variant === metrics.control ? `${v.variant} (control)` : v.variant ?? "no experiment") },
    { label: "lists", value: (v) => num(v.exposures) },
    { label: "items shown", value: (v) => num(v.items_shown) },
    { label: "clicks", value: (v) => num(v.clicks) },
    { label: "lists clicked", value: (v) => num(v.lists_clicked) },
    { label: "CTR per list", value: (v) => withInterval(v.ctr_list) },
    { label: "CTR per item", value: (v) => withInterval(v.ctr_item) },
    { label: "conversion", value: (v) => withInterval(v.conversion_rate) },
    { label: "vs control (CTR per list)", value: (v) => difference(v.vs_control) },
  ], rows, { testid: "readout-table" });
  // Cumulative CTR per item shown over the window, per variant, with its Wilson band (computed here from the
  // series' counts, the same formula as the API's totals).
  // The chart starts a bucket before the first list served in the window, so a young experiment fills it.
  const firsts = rows.map((v) => v.series.findIndex((b) => b.exposures > 0)).filter((i) => i >= 0);
  const from = firsts.length ? Math.max(0, Math.min(...firsts) - 1) : 0;
  const labels = rows.length ? rows[0].series.slice(from).map((b) => when(b.start).slice(5, 16)) : [];
  const datasets = [];
  rows.forEach((v, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const cum = cumulativeSeries(v.series).slice(from);
    const name = v.variant ?? "no experiment";
    const bound = { borderWidth: 1, borderDash: [4, 3], borderColor: `${colour}99`, pointRadius: 2, pointStyle: "line", backgroundColor: `${colour}33` };
    datasets.push({ label: `${name} high`, data: cum.map((c) => c.ctr.high), fill: false, ...bound });
    datasets.push({ label: `${name} low`, data: cum.map((c) => c.ctr.low), fill: "-1", ...bound });
    datasets.push({ label: name, data: cum.map((c) => c.ctr.value), borderColor: colour, backgroundColor: colour, pointRadius: 2, spanGaps: true });
  });
  const over = chart({
    type: "line",
    data: { labels, datasets },
    options: {
      plugins: { legend: { labels: { filter: (item) => !/ (high|low)$/.test(item.text) } } },
      scales: { y: { beginAtZero: true, title: { display: true, text: "CTR per item, cumulative (95%)" } } },
    },
  }, "readout-chart");
  return h("div", {},
    detail,
    h("p", { class: "muted", testid: "unattributed" }, `unattributed events naming this scenario: ${Object.entries(metrics.unattributed || {}).map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`),
    over,
    h("p", { class: "muted" }, `window ${when(metrics.since)} to ${when(metrics.until)} UTC, per ${metrics.interval}; events count in the bucket of the list they followed`));
}

export async function render(root) {
  const windowSelect = h("select", { testid: "window" }, Object.keys(WINDOWS).map((w) => h("option", { value: w }, w)));
  windowSelect.value = "last 24 hours";
  const list = h("div");
  const detail = h("div", { testid: "readout" });
  let opened = null;
  let timer = null;

  const open = async (experiment) => {
    opened = experiment;
    const w = WINDOWS[windowSelect.value];
    const until = Date.now() / 1000;
    try {
      const metrics = await api.get(`/v1/scenarios/${encodeURIComponent(experiment.scenario)}/metrics`,
        { experiment: experiment.experiment, since: until - w.seconds, until, interval: w.interval });
      detail.replaceChildren(h("h2", {}, `${metrics.scenario} / ${metrics.experiment ?? "no experiment"}`), readout(metrics));
    } catch (err) { detail.replaceChildren(errorBox(err)); }
  };
  const load = async () => {
    const w = WINDOWS[windowSelect.value];
    const until = Date.now() / 1000;
    const { experiments } = await api.get("/v1/experiments", { since: until - w.seconds, until });
    list.replaceChildren(overviewTable(experiments, open));
    if (!opened && experiments.length) opened = experiments[0];
    if (opened) await open(opened);
  };
  const refresh = h("button", { type: "button", class: "secondary", testid: "refresh", onclick: () => load().catch((err) => list.replaceChildren(errorBox(err))) }, "Refresh");
  windowSelect.addEventListener("change", () => refresh.click());
  root.append(
    h("h1", {}, "Experiment results"),
    h("div", { class: "row" }, h("label", {}, "window", windowSelect), refresh, h("span", { class: "muted" }, "refreshes every 10 s")),
    card("Experiments", list),
    card(null, detail));
  await load();
  let stopped = false;
  const tick = () => { if (!stopped) timer = setTimeout(() => load().catch(() => {}).finally(tick), 10000); };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}
