// Scenarios and experiments: view and edit a scenario (channels, quotas, weights, ranker, rules, traffic split);
// the API validates, and its errors are shown next to the field they name.
import * as api from "../api.js";
import { card, errorBox, h } from "../ui.js";

const CHANNELS = ["item_cf", "user_cf", "als", "ease", "two_tower", "content", "tag", "hot", "latest", "popular"];
const RANKERS = ["fusion", "deepfm", "wide_deep", "gbdt", "weighted", "random"];

function field(doc, path, attrs = {}) {
  const keys = path.split(".");
  const holder = keys.slice(0, -1).reduce((o, k) => o[k], doc);
  const last = keys[keys.length - 1];
  const kind = attrs.type || "text";
  const input = kind === "select"
    ? h("select", { "data-path": path, testid: `f-${path}` }, attrs.options.map((o) => h("option", { value: o }, o)))
    : h("input", { type: kind, "data-path": path, testid: `f-${path}`, step: attrs.step, size: attrs.size });
  if (kind === "checkbox") input.checked = Boolean(holder[last]); else input.value = holder[last] ?? "";
  input.addEventListener("input", () => {
    if (kind === "checkbox") holder[last] = input.checked;
    else if (kind === "number") holder[last] = input.value === "" ? null : Number(input.value);
    else holder[last] = input.value;
  });
  input.addEventListener("change", () => input.dispatchEvent(new Event("input")));
  return h("span", { class: "field" }, input);
}

function form(doc) {
  const channels = h("table", { testid: "channels" },
    h("thead", {}, h("tr", {}, ["channel", "enabled", "quota", "weight", "deadline ms"].map((t) => h("th", {}, t)))),
    h("tbody", {}, doc.channels.map((c, i) => h("tr", { "data-path": `channels.${i}` },
      h("td", {}, field(doc, `channels.${i}.name`, { type: "select", options: CHANNELS })),
      h("td", {}, field(doc, `channels.${i}.enabled`, { type: "checkbox" })),
      h("td", {}, field(doc, `channels.${i}.quota`, { type: "number", size: 5 })),
      h("td", {}, field(doc, `channels.${i}.weight`, { type: "number", step: "0.1", size: 5 })),
      h("td", {}, field(doc, `channels.${i}.deadline_ms`, { type: "number", size: 5 }))))));
  const experiments = (doc.experiments || []).map((e, i) => h("div", { class: "card", "data-path": `experiments.${i}` },
    h("h3", {}, `experiment ${e.experiment_id}`),
    h("div", { class: "row" }, h("label", {}, "enabled", field(doc, `experiments.${i}.enabled`, { type: "checkbox" }))),
    h("table", { testid: `traffic-${e.experiment_id}` },
      h("thead", {}, h("tr", {}, ["variant", "traffic %", "overrides"].map((t) => h("th", {}, t)))),
      h("tbody", {}, e.variants.map((v, j) => h("tr", { "data-path": `experiments.${i}.variants.${j}` },
        h("td", {}, v.variant_id),
        h("td", {}, field(doc, `experiments.${i}.variants.${j}.traffic`, { type: "number", step: "any", size: 6 })),
        h("td", { class: "mono" }, JSON.stringify(v.overrides || {}))))))));
  return h("div", {},
    h("div", { class: "row" },
      h("label", {}, "ranker", field(doc, "ranker", { type: "select", options: RANKERS })),
      h("label", {}, "default count", field(doc, "default_count", { type: "number", size: 5 })),
      h("label", {}, "candidate limit", field(doc, "candidate_limit", { type: "number", size: 6 }))),
    h("h3", {}, "recall channels"), channels,
    h("h3", {}, "rerank rules (in order)"),
    h("p", { class: "mono", "data-path": "rules" }, (doc.rules || []).map((r) => r.type || r.rule || JSON.stringify(r)).join(" → ") || "none"),
    h("h3", {}, "experiments"), experiments.length ? experiments : h("p", { class: "muted" }, "none: add one in the JSON below"));
}

// loc from the API, e.g. ["body", "channels", 2, "quota"]: the closest element the form has for it.
function place(container, loc) {
  const parts = loc[0] === "body" ? loc.slice(1) : loc;
  for (let n = parts.length; n > 0; n--) {
    const el = container.querySelector(`[data-path="${parts.slice(0, n).join(".")}"]`);
    if (el) return el;
  }
  return null;
}

export async function render(root) {
  const { scenarios } = await api.get("/v1/scenarios");
  const wanted = new URLSearchParams(window.location.hash.split("?")[1] || "").get("id");
  let current = scenarios.find((s) => s.scenario_id === wanted) || scenarios[0];
  const editor = h("div", { testid: "scenario-editor" });

  const open = (scenario) => {
    current = scenario;
    const doc = structuredClone(scenario);
    const formBox = h("div", {}, form(doc));
    const json = h("textarea", { testid: "scenario-json", "data-path": "json", spellcheck: "false" }, JSON.stringify(doc, null, 2));
    formBox.addEventListener("input", () => { json.value = JSON.stringify(doc, null, 2); }); // one document, two views
    const status = h("div", { testid: "save-status" });
    const clearErrors = () => {
      for (const el of editor.querySelectorAll(".invalid")) el.classList.remove("invalid");
      for (const el of editor.querySelectorAll(".field-error")) el.remove();
    };
    const save = async (body) => {
      clearErrors();
      status.replaceChildren();
      try {
        const saved = await api.put(`/v1/scenarios/${encodeURIComponent(body.scenario_id)}`, body);
        status.replaceChildren(h("p", { class: "ok", testid: "saved" }, `saved ${saved.scenario_id}: served from now on`));
        const i = scenarios.findIndex((s) => s.scenario_id === saved.scenario_id);
        if (i >= 0) scenarios[i] = saved; else scenarios.push(saved);
        current = saved;
        json.value = JSON.stringify(saved, null, 2);
      } catch (err) {
        const errors = (err.details && err.details.errors) || [];
        const unplaced = [];
        for (const e of errors) {
          const el = place(editor, e.loc || []);
          const text = `${(e.loc || []).filter((p) => p !== "body").join(".")}: ${e.msg}`;
          if (el) {
            const target = el.matches("input,select,textarea") ? el : el.querySelector("input,select") || el;
            target.classList.add("invalid");
            (el.matches("input,select,textarea") ? el.parentElement : el).append(h("span", { class: "field-error", testid: "field-error" }, text));
          } else unplaced.push(text);
        }
        status.replaceChildren(h("p", { class: "error", testid: "save-error" }, `${err.code}: ${err.message}`),
          ...unplaced.map((t) => h("p", { class: "error" }, t)));
      }
    };
    editor.replaceChildren(
      h("h2", {}, `Scenario ${doc.scenario_id}`),
      h("p", { class: "muted" }, doc.description || ""),
      formBox,
      h("div", { class: "row" }, h("button", { type: "button", testid: "save-form", onclick: () => save(doc) }, "Save")),
      status,
      h("h3", {}, "the whole scenario as JSON (rules, filters, experiments, variant overrides)"),
      json,
      h("div", { class: "row" }, h("button", { type: "button", class: "secondary", testid: "save-json", onclick: () => {
        let body;
        try { body = JSON.parse(json.value); } catch (e) { status.replaceChildren(h("p", { class: "error", testid: "save-error" }, `not JSON: ${e.message}`)); return; }
        save(body).then(() => { if (editor.querySelector("[data-testid=saved]")) open(current); });
      } }, "Save JSON")));
  };

  const list = h("div", {}, scenarios.map((s) => h("p", {}, h("a", { href: `#/scenarios?id=${encodeURIComponent(s.scenario_id)}`, testid: `scenario-${s.scenario_id}` }, s.scenario_id),
    (s.experiments || []).some((e) => e.enabled) ? h("span", { class: "pill" }, "experiment") : null)));
  const newId = h("input", { placeholder: "new scenario id", testid: "new-scenario-id", size: 16 });
  const create = () => {
    const id = newId.value.trim();
    if (!id) return;
    open({ ...structuredClone(current), scenario_id: id, experiments: [], description: "" });
  };
  root.append(h("h1", {}, "Scenarios and experiments"),
    h("div", { style: "display:grid;grid-template-columns:220px 1fr;gap:16px" },
      card("Scenarios", list, h("div", { class: "row" }, newId, h("button", { type: "button", class: "secondary", onclick: create }, "New"))),
      card(null, editor)));
  if (current) open(current);
  else editor.append(errorBox(new Error("no scenario")));
}
