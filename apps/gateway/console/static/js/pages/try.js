// Try it: one user's list in a scenario and mode, explained (channels and scores per item, rule effects, stage
// timings, model versions, variant); and two experiment variants side by side (previews: never logged as served).
import * as api from "../api.js";
import { PALETTE, card, errorBox, h, num, table } from "../ui.js";

const STAGES = ["profile", "recall", "ranking", "rerank"];

function timingsBar(timings) {
  const total = timings.total || STAGES.reduce((s, k) => s + (timings[k] || 0), 0) || 1;
  return h("div", {},
    h("div", { class: "timings", testid: "timings" },
      STAGES.filter((k) => timings[k] !== undefined).map((k, i) =>
        h("div", { style: `width:${(100 * timings[k]) / total}%;background:${PALETTE[i]}`, title: `${k} ${timings[k]} ms` }, `${k} ${num(timings[k], 1)}`))),
    h("p", { class: "muted" }, STAGES.map((k) => `${k} ${num(timings[k], 1)} ms`).join(" · "), ` · total ${num(timings.total, 1)} ms`));
}

function explain(body, titles, shared = new Set()) {
  const debug = body.debug || {};
  const ranker = debug.ranker || {};
  const channels = debug.channels || [];
  return h("div", { testid: "explanation" },
    h("p", { testid: "result-meta" },
      h("b", {}, `scenario ${body.scenario}`),
      body.variant ? ` · experiment ${body.experiment}, variant ` : " · no experiment",
      body.variant ? h("b", { testid: "result-variant" }, body.variant) : null,
      body.mode ? ` · mode ${body.mode}` : " · preview (not logged)",
      body.request_id ? h("span", { class: "muted mono" }, ` · request ${body.request_id}`) : null),
    body.degraded ? h("p", { class: "warn", testid: "degraded" }, `degraded: ${body.reasons.join("; ")}`) : h("p", { class: "ok" }, "served whole"),
    debug.timings_ms ? timingsBar(debug.timings_ms) : h("p", { class: "muted" }, "no stage timings (a precomputed feed)"),
    h("p", { testid: "ranker" }, `ranker: ${ranker.used || "–"}${ranker.version ? ` v${ranker.version}` : ""}`,
      ranker.requested && ranker.requested !== ranker.used ? ` (asked for ${ranker.requested})` : "",
      ranker.serves ? ` · serving ${ranker.serves}'s order (the ranker guard)` : ""),
    table([
      { label: "#", value: (r) => r.rank },
      { label: "item", value: (r) => h("span", { class: "mono" }, r.item_id) },
      { label: "title", value: (r) => titles[r.item_id] || "" },
      { label: "score", value: (r) => num(r.score, 4) },
      { label: "channels (score)", value: (r) => h("span", { class: "mono" }, Object.entries(r.sources || {}).map(([c, s]) => `${c} ${num(s, 3)}`).join(", ")) },
    ], body.items.map((it, i) => ({ ...it, rank: i + 1 })), { testid: "result-items", empty: "no items" }),
    h("h3", {}, "recall channels"),
    table([
      { label: "channel", value: (c) => c.name },
      { label: "ok", value: (c) => h("span", { class: c.ok ? "ok" : "bad" }, c.ok ? "yes" : "no") },
      { label: "candidates", value: (c) => num(c.count) },
      { label: "ms", value: (c) => num(c.ms, 1) },
      { label: "model version", value: (c) => (c.version ? `v${c.version}` : "–") },
      { label: "error", value: (c) => c.error || "" },
    ], channels, { testid: "result-channels", empty: "no recall details" }),
    h("h3", {}, "rule effects"),
    table([
      { label: "rule", value: (e) => e.rule },
      { label: "removed", value: (e) => num((e.removed || []).length) },
      { label: "moved", value: (e) => num((e.moved || []).length) },
      { label: "pinned", value: (e) => (e.pinned || []).join(" ") },
    ], debug.rules || [], { testid: "result-rules", empty: "no rules ran" }),
  );
}

async function titlesOf(items) {
  const found = await Promise.all(items.map((it) => api.get(`/v1/items/${encodeURIComponent(it.item_id)}`).catch(() => null)));
  return Object.fromEntries(found.filter(Boolean).map((it) => [it.item_id, it.title || ""]));
}

export async function render(root) {
  const [{ scenarios }, users] = await Promise.all([api.get("/v1/scenarios"), api.get("/v1/users", { limit: 50 })]);
  const userInput = h("input", { list: "try-users", value: users.users[0] ? users.users[0].user_id : "", testid: "try-user", required: true });
  const scenarioSelect = h("select", { testid: "try-scenario" }, scenarios.map((s) => h("option", { value: s.scenario_id }, s.scenario_id)));
  const modeSelect = h("select", { testid: "try-mode" }, ["online", "cached", "workflow"].map((m) => h("option", { value: m }, m)));
  const countInput = h("input", { type: "number", min: 1, max: 200, placeholder: "scenario's", testid: "try-count" });
  const result = h("div", { testid: "try-result" });
  const compare = h("div", { testid: "compare" });

  const run = async () => {
    result.replaceChildren(h("p", { class: "muted" }, "asking…"));
    try {
      const body = await api.get(`/v1/users/${encodeURIComponent(userInput.value.trim())}/recommendations`,
        { scenario: scenarioSelect.value, mode: modeSelect.value, count: countInput.value, debug: "true" });
      result.replaceChildren(explain(body, await titlesOf(body.items)));
    } catch (err) { result.replaceChildren(errorBox(err)); }
  };

  const renderCompare = () => {
    const scenario = scenarios.find((s) => s.scenario_id === scenarioSelect.value);
    const experiment = scenario && (scenario.experiments || []).find((e) => e.enabled);
    if (!experiment) {
      compare.replaceChildren(h("p", { class: "muted" }, "this scenario runs no experiment: add one on the Scenarios page to compare variants"));
      return;
    }
    const options = () => experiment.variants.map((v) => h("option", { value: v.variant_id }, `${v.variant_id} (${v.traffic}%)`));
    const left = h("select", { testid: "compare-left" }, options());
    const right = h("select", { testid: "compare-right" }, options());
    if (experiment.variants.length > 1) right.value = experiment.variants[1].variant_id;
    const panes = h("div", { class: "cols2", testid: "compare-panes" });
    const go = async () => {
      panes.replaceChildren(h("p", { class: "muted" }, "asking…"));
      try {
        const ask = (variant) => api.get("/v1/preview", { user_id: userInput.value.trim(), scenario: scenario.scenario_id, variant, count: countInput.value });
        const [a, b] = await Promise.all([ask(left.value), ask(right.value)]);
        const titles = await titlesOf([...a.items, ...b.items]);
        const inBoth = new Set(a.items.map((i) => i.item_id).filter((id) => b.items.some((j) => j.item_id === id)));
        panes.replaceChildren(
          card(`variant ${a.variant}`, h("p", { class: "muted", testid: "compare-overlap" }, `${inBoth.size} of ${a.items.length} items in both lists`), explain(a, titles, inBoth)),
          card(`variant ${b.variant}`, h("p", { class: "muted" }, " "), explain(b, titles, inBoth)));
      } catch (err) { panes.replaceChildren(errorBox(err)); }
    };
    compare.replaceChildren(
      h("div", { class: "row" }, h("label", {}, "left", left), h("label", {}, "right", right),
        h("button", { type: "button", onclick: go, testid: "compare-go" }, "Compare")),
      panes);
  };
  scenarioSelect.addEventListener("change", renderCompare);

  root.append(
    h("h1", {}, "Try it"),
    card(null,
      h("datalist", { id: "try-users" }, users.users.map((u) => h("option", { value: u.user_id }))),
      h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); run(); } },
        h("label", {}, "user", userInput), h("label", {}, "scenario", scenarioSelect),
        h("label", {}, "mode", modeSelect), h("label", {}, "count", countInput),
        h("button", { type: "submit", testid: "try-go" }, "Recommend")),
      h("p", { class: "muted" }, "a real request: its list is logged as served (an exposure) like any other")),
    card("Result", result),
    card("Variants side by side", h("p", { class: "muted" }, "previews of the same user under two variants (debug on, not logged as served)"), compare),
  );
  renderCompare();
}
