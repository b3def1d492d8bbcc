// The public API as the logged-in operator: a tenant key (X-API-Key), or the admin key acting for the tenant
// picked in the header (X-Admin-Key + X-Tenant-Id, which the gateway requires for admin access to a tenant).

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || `http_${status}`;
    this.details = error.details || {};
  }
}

const session = {
  get key() { return sessionStorage.getItem("lemo.key"); },
  get admin() { return sessionStorage.getItem("lemo.admin") === "1"; },
  get tenant() { return sessionStorage.getItem("lemo.tenant"); },
};

export function loggedIn() { return Boolean(session.key) && (!session.admin || Boolean(session.tenant)); }
export function isAdmin() { return session.admin; }
export function currentTenant() { return session.tenant; }

export function setSession(key, admin, tenant) {
  sessionStorage.setItem("lemo.key", key);
  sessionStorage.setItem("lemo.admin", admin ? "1" : "0");
  if (tenant) sessionStorage.setItem("lemo.tenant", tenant); else sessionStorage.removeItem("lemo.tenant");
}

export function pickTenant(tenant) { sessionStorage.setItem("lemo.tenant", tenant); }

export function logout() { sessionStorage.clear(); }

function authHeaders(key = session.key, admin = session.admin, tenant = session.tenant) {
  if (!admin) return { "X-API-Key": key };
  const headers = { "X-Admin-Key": key };
  if (tenant) headers["X-Tenant-Id"] = tenant;
  return headers;
}

export async function request(method, path, { params, body, key, admin, tenant, accept = [] } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const headers = authHeaders(key, admin, tenant);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await resp.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
  if (!resp.ok && !accept.includes(resp.status)) throw new ApiError(resp.status, parsed);
  return parsed;
}

export const get = (path, params) => request("GET", path, { params });
export const post = (path, body, params) => request("POST", path, { body, params });
export const put = (path, body) => request("PUT", path, { body });

// Which kind of key this is: a tenant key answers /v1/tenant, the admin key answers /v1/admin/tenants.
export async function identify(key) {
  try {
    const me = await request("GET", "/v1/tenant", { key, admin: false });
    return { admin: false, tenant: me.tenant_id };
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
  }
  const listed = await request("GET", "/v1/admin/tenants", { key, admin: true });
  return { admin: true, tenants: listed.tenants };
}
