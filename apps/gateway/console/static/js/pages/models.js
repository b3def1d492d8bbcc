// Models: versions with holdout metrics, a metric across versions, training runs with per-step progress, start a
// run, activate a version, roll back a kind.
import * as api from "../api.js";
import { PALETTE, card, chart, errorBox, h, metric, num, table, when } from "../ui.js";

const STARTED = "lemo.runs"; // runs started from this browser, until their versions are registered

function startedRuns() { return JSON.parse(sessionStorage.getItem(STARTED) || "[]"); }
function remember(runId) { sessionStorage.setItem(STARTED, JSON.stringify([runId, ...startedRuns().filter((r) => r !== runId)].slice(0, 10))); }

function primary(v) { return v.metrics["ndcg@10"] !== undefined ? "ndcg@10" : "auc"; }

function runView(run) {
  const p = run.progress || {};
  const pct = p.total ? Math.round((100 * p.done) / p.total) : run.status === "COMPLETED" ? 100 : 0;
  const models = Object.entries((run.output || {}).models || p.models || {});
  return h("div", { testid: "run-view" },
    h("p", {}, h("b", { class: run.status === "COMPLETED" ? "ok" : run.status === "FAILED" ? "bad" : "" , testid: "run-status" }, run.status),
      ` · ${run.run_id}`, p.step ? ` · step: ${p.step}` : "", p.total ? ` · ${p.done} of ${p.total} steps` : ""),
    h("div", { class: "bar" }, h("div", { style: `width:${pct}%`, testid: "run-bar" })),
    run.failure ? h("p", { class: "error" }, run.failure) : null,
    table([
      { label: "model", value: ([k]) => k },
      { label: "state", value: ([, m]) => (typeof m === "string" ? m : m.activated !== undefined ? `v${m.version} ${m.activated ? "activated" : "candidate"}` : JSON.stringify(m)) },
      { label: "holdout", value: ([, m]) => (m && m.metrics ? Object.entries(m.metrics).filter(([k]) => ["ndcg@10", "auc", "pipeline_ndcg@10"].includes(k)).map(([k, x]) => `${k} ${x.toFixed(4)}`).join(" ") : "") },
    ], models, { testid: "run-models", empty: "no model finished yet" }));
}

export async function render(root) {
  const { active, versions } = await api.get("/v1/models", { limit: 500 });
  const kinds = [...new Set(versions.map((v) => v.kind))].sort();
  const message = h("p", { testid: "models-message" });

  const act = async (label, fn) => {
    try { const v = await fn(); message.className = "ok"; message.textContent = `${label}: ${v.kind} v${v.version} now serves`; setTimeout(() => window.dispatchEvent(new HashChangeEvent("hashchange")), 800); }
    catch (err) { message.className = "error"; message.textContent = `${label}: ${err.code}: ${err.message}`; }
  };

  const versionTable = table([
    { label: "kind", value: (v) => v.kind },
    { label: "version", value: (v) => `v${v.version}` },
    { label: "status", value: (v) => h("span", { class: `pill ${v.status === "active" ? "active" : ""}` }, v.status) },
    { label: "holdout metrics", value: (v) => h("span", { class: "mono" }, Object.entries(v.metrics).map(([k, x]) => `${k} ${metric(x)}`).join(" · ")) },
    { label: "trained", value: (v) => `${when(v.created_at)} (${num(v.train_seconds, 1)} s)` },
    { label: "run", value: (v) => h("span", { class: "mono muted" }, v.run_id) },
    { label: "", value: (v) => (v.status === "active"
      ? versions.some((x) => x.kind === v.kind && x.version !== v.version && x.status !== "pruned") && h("button", { class: "secondary", type: "button", testid: `rollback-${v.kind}`, onclick: () => act("roll back", () => api.post(`/v1/models/${v.kind}/rollback`)) }, "Roll back")
      : v.status === "pruned" ? "" : h("button", { type: "button", testid: `activate-${v.kind}-${v.version}`, onclick: () => act("activate", () => api.post(`/v1/models/${v.kind}/activate`, { version: v.version })) }, "Activate")) },
  ], versions, { testid: "versions", empty: "no model yet: start a training run" });

  // A metric across versions: one line per kind that has it.
  const metrics = [...new Set(versions.flatMap((v) => Object.keys(v.metrics)))].sort();
  const metricSelect = h("select", { testid: "metric-select" }, metrics.map((m) => h("option", { value: m }, m)));
  if (metrics.includes("ndcg@10")) metricSelect.value = "ndcg@10";
  const chartBox = h("div");
  const drawChart = () => {
    const m = metricSelect.value;
    const maxVersion = Math.max(1, ...versions.map((v) => v.version));
    const labels = Array.from({ length: maxVersion }, (_, i) => `v${i + 1}`);
    const datasets = kinds.filter((k) => versions.some((v) => v.kind === k && v.metrics[m] !== undefined)).map((k, i) => ({
      label: k, borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length], spanGaps: true,
      data: labels.map((_, j) => { const v = versions.find((x) => x.kind === k && x.version === j + 1); return v && v.metrics[m] !== undefined ? v.metrics[m] : null; }),
    }));
    chartBox.replaceChildren(chart({ type: "line", data: { labels, datasets }, options: { scales: { y: { title: { display: true, text: m } } } } }, "metrics-chart"));
  };
  metricSelect.addEventListener("change", drawChart);

  // Training runs: those that registered versions, and those started here that have not yet.
  const registered = [...new Map(versions.map((v) => [v.run_id, v.created_at])).entries()].sort((a, b) => b[1] - a[1]).map(([r]) => r);
  const runIds = () => [...new Set([...startedRuns(), ...registered])].slice(0, 12);
  const runList = h("div");
  const listRuns = () => runList.replaceChildren(
    table([{ label: "run", value: (r) => h("span", { class: "mono" }, r) }], runIds(), { testid: "runs", onClick: follow, empty: "no run yet" }));
  const runBox = h("div", { testid: "run-box" });
  let timer = null;
  const follow = async (runId) => {
    clearTimeout(timer);
    try {
      const run = await api.get(`/v1/models/runs/${encodeURIComponent(runId)}`);
      runBox.replaceChildren(runView(run));
      if (!["COMPLETED", "FAILED", "TERMINATED"].includes(run.status)) timer = setTimeout(() => follow(runId), 1000);
    } catch (err) {
      runBox.replaceChildren(err.status === 404 ? h("p", { class: "muted" }, `${runId}: no workflow record (trained outside the trainer app, or purged)`) : errorBox(err));
    }
  };
  const policy = h("select", { testid: "train-policy" }, ["better", "always", "manual"].map((p) => h("option", { value: p }, p)));
  const kindsInput = h("input", { placeholder: "all kinds, or e.g. als,item_cf", testid: "train-kinds" });
  const start = async () => {
    try {
      const body = { policy: policy.value };
      const wanted = kindsInput.value.split(",").map((s) => s.trim()).filter(Boolean);
      if (wanted.length) body.kinds = wanted;
      const { run_id: runId } = await api.post("/v1/models/train", body);
      remember(runId);
      listRuns();
      message.className = "ok"; message.textContent = `started ${runId}`;
      await follow(runId);
    } catch (err) { message.className = "error"; message.textContent = `${err.code}: ${err.message}`; }
  };

  root.append(
    h("h1", {}, "Models"),
    message,
    h("div", { class: "cols2" },
      card("Holdout metric across versions", h("div", { class: "row" }, h("label", {}, "metric", metricSelect)), chartBox),
      card("Training runs",
        h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); start(); } },
          h("label", {}, "kinds", kindsInput), h("label", {}, "activation", policy), h("button", { type: "submit", testid: "train-start" }, "Start a run")),
        runList,
        runBox)),
    card(`Versions (${Object.keys(active).length} kinds active)`, versionTable),
  );
  drawChart();
  listRuns();
  if (runIds().length) await follow(runIds()[0]);
  return () => clearTimeout(timer);
}
