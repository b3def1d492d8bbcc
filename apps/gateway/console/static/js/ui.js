// Small DOM helpers: an element builder, tables, number and time formats, and charts (chart.js, served locally).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "testid") el.dataset.testid = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function card(title, ...children) { return h("div", { class: "card" }, title ? h("h2", {}, title) : null, ...children); }

// columns: [{ label, value: row => node|string, class? }]; onClick(row) makes rows clickable.
export function table(columns, rows, { testid, onClick, empty = "nothing yet" } = {}) {
  const body = rows.length
    ? rows.map((row) => h("tr", { class: onClick ? "clickable" : null, onclick: onClick ? () => onClick(row) : null },
        columns.map((c) => h("td", { class: c.class }, c.value(row)))))
    : [h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, empty))];
  return h("table", { testid }, h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c.label)))), h("tbody", {}, body));
}

export function num(x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  return Number(x).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function metric(x) { return x === null || x === undefined ? "–" : Number(x).toFixed(4); }

export function when(ts) {
  if (!ts) return "–";
  const d = new Date(ts * 1000);
  return d.toISOString().replace("T", " ").slice(0, 19);
}

export function errorBox(err) { return h("p", { class: "error", testid: "error" }, `${err.code || "error"}: ${err.message}`); }

export function pills(values, cls = "") { return h("span", {}, (values || []).map((v) => h("span", { class: `pill ${cls}` }, v))); }

export const PALETTE = ["#2f6fdb", "#e07b39", "#1f8a4c", "#9b59b6", "#c0392b", "#16a085", "#7f8c8d", "#d4ac0d"];

// A chart in a fixed-height box; returns the box. Without the library (not installed), says so instead.
export function chart(config, testid) {
  const box = h("div", { class: "chart", testid });
  if (!window.Chart) {
    box.append(h("p", { class: "error" }, "chart.js is not installed (scripts/install-console.sh)"));
    return box;
  }
  const canvas = h("canvas");
  box.append(canvas);
  config.options = { animation: false, responsive: true, maintainAspectRatio: false, ...(config.options || {}) };
  box.chart = new window.Chart(canvas, config);
  return box;
}
