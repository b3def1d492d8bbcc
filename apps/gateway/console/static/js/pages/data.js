// Data: search items and users; one user's stored attributes, realtime profile, recent events and served lists.
import * as api from "../api.js";
import { card, errorBox, h, num, pills, table, when } from "../ui.js";

function searchForm(placeholder, testid, onSearch) {
  const input = h("input", { type: "search", placeholder, testid: `${testid}-q` });
  const form = h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); onSearch(input.value.trim()); } },
    h("label", {}, placeholder, input), h("button", { type: "submit", testid: `${testid}-search` }, "Search"));
  return form;
}

async function itemsPanel() {
  const results = h("div");
  const show = async (q) => {
    try {
      const page = await api.get("/v1/items", { q, limit: 25, total: "true" });
      results.replaceChildren(
        h("p", { class: "muted", testid: "items-total" }, `${num(page.total)} item${page.total === 1 ? "" : "s"}${q ? ` matching "${q}"` : ""}; first ${page.items.length}`),
        table([
          { label: "item", value: (i) => h("span", { class: "mono" }, i.item_id) },
          { label: "title", value: (i) => i.title || "" },
          { label: "categories", value: (i) => pills(i.categories) },
          { label: "published", value: (i) => (i.published_at || "").slice(0, 10) },
          { label: "hidden", value: (i) => (i.hidden ? "yes" : "") },
        ], page.items, { testid: "items-table", empty: "no item matches" }));
    } catch (err) { results.replaceChildren(errorBox(err)); }
  };
  await show("");
  return card("Items", searchForm("id prefix or words of the title", "items", show), results);
}

function kv(obj, testid) {
  const rows = Object.entries(obj || {});
  const show = (v) => (typeof v === "number" ? num(v, Number.isInteger(v) ? 0 : 3) : typeof v === "string" ? v : JSON.stringify(v));
  return table([{ label: "key", value: ([k]) => k }, { label: "value", value: ([, v]) => show(v) }],
    rows, { testid, empty: "none" });
}

async function userDetail(userId, box) {
  box.replaceChildren(h("p", { class: "muted" }, `loading ${userId}…`));
  const [user, realtime, activity] = await Promise.all([
    api.get(`/v1/users/${encodeURIComponent(userId)}`).catch((err) => ({ error: err })),
    api.get(`/v1/users/${encodeURIComponent(userId)}/realtime`),
    api.get(`/v1/users/${encodeURIComponent(userId)}/activity`, { limit: 20 }),
  ]);
  const interests = Object.fromEntries(Object.entries(realtime.interests || {}).slice(0, 12));
  box.replaceChildren(
    h("h2", { testid: "user-title" }, `User ${userId}`),
    h("div", { class: "grid" },
      card("Attributes", user.error ? errorBox(user.error) : kv(user.attributes, "user-attributes"),
        h("p", { class: "muted" }, user.created_at ? `created ${when(user.created_at)}${user.implicit ? " (first seen in an event)" : ""}` : "")),
      card("Realtime profile",
        h("p", {}, `last active ${when(realtime.last_active)}`),
        h("h3", {}, "events by type"), kv(realtime.type_counts, "user-type-counts"),
        h("h3", {}, "recent items"), h("p", { class: "mono", testid: "user-recent-items" }, (realtime.recent_items || []).slice(0, 20).join(" ") || "none"),
        h("h3", {}, "top interests (decayed)"), kv(interests, "user-interests"),
        h("h3", {}, "last hour"), kv(realtime.window_1h, "user-window"))),
    card("Recent events",
      table([
        { label: "time", value: (e) => when(e.timestamp) },
        { label: "type", value: (e) => e.type },
        { label: "item", value: (e) => h("span", { class: "mono" }, e.item_id) },
        { label: "value", value: (e) => (e.value ?? "") },
        { label: "scenario", value: (e) => e.scenario || "" },
        { label: "request", value: (e) => h("span", { class: "mono" }, ((e.context || {}).request_id || "").slice(0, 12)) },
      ], activity.events, { testid: "user-events", empty: "no archived events" })),
    card("What they were shown",
      table([
        { label: "time", value: (x) => when(x.timestamp) },
        { label: "scenario", value: (x) => x.scenario },
        { label: "variant", value: (x) => (x.variant ? `${x.experiment}/${x.variant}` : "–") },
        { label: "mode", value: (x) => `${x.mode}${x.degraded ? " (degraded)" : ""}` },
        { label: "request", value: (x) => h("span", { class: "mono" }, x.request_id.slice(0, 12)) },
        { label: "items", value: (x) => h("span", { class: "mono" }, x.items.join(" ")) },
      ], activity.exposures, { testid: "user-exposures", empty: "no list served yet" })),
  );
}

async function usersPanel(detail) {
  const results = h("div");
  const show = async (q) => {
    try {
      const page = await api.get("/v1/users", { q, limit: 25, total: "true" });
      results.replaceChildren(
        h("p", { class: "muted", testid: "users-total" }, `${num(page.total)} user${page.total === 1 ? "" : "s"}${q ? ` whose id starts with "${q}"` : ""}; first ${page.users.length}`),
        table([
          { label: "user", value: (u) => h("span", { class: "mono" }, u.user_id) },
          { label: "attributes", value: (u) => h("span", { class: "muted" }, Object.entries(u.attributes || {}).map(([k, v]) => `${k}=${v}`).join(", ")) },
        ], page.users, {
          testid: "users-table", empty: "no user matches",
          onClick: (u) => userDetail(u.user_id, detail).catch((err) => detail.replaceChildren(errorBox(err))),
        }));
    } catch (err) { results.replaceChildren(errorBox(err)); }
  };
  await show("");
  return card("Users", searchForm("user id prefix", "users", show), results, h("p", { class: "muted" }, "click a user for their profile, events and served lists"));
}

export async function render(root) {
  const detail = h("div", { testid: "user-detail" });
  const [items, users] = await Promise.all([itemsPanel(), usersPanel(detail)]);
  root.append(h("h1", {}, "Data"), h("div", { class: "cols2" }, users, items), detail);
  const wanted = new URLSearchParams(window.location.hash.split("?")[1] || "").get("user");
  if (wanted) await userDetail(wanted, detail).catch((err) => detail.replaceChildren(errorBox(err)));
}
