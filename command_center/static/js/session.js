// A staff session in the browser: sign in (government ID + mobile -> SMS code), tokens in sessionStorage
// (gone when the tab closes), the access token refreshed before it expires, and API calls that carry it.
// Shared by the operator console and the officer app.
import { readAsDataUrl } from "./dom.js";

const REFRESH_MARGIN_MS = 60000;
const SESSION_KEY = "safecity.session";

export class ApiError extends Error {
  constructor(status, detail, path) {
    super(detail || `${path}: HTTP ${status}`);
    this.status = status;
    this.path = path;
  }
}

let session = null; // {access_token, refresh_token, expires_at, user}
let refreshTimer = null;
let onEnded = () => {};
const photos = new Map(); // image URL -> Promise of a data: URL (some image reads are audited: fetch once)

export function current() {
  return session;
}

export function whenEnded(callback) {
  onEnded = callback;
}

function detailOf(data, fallback) {
  const detail = data && data.detail;
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  if (detail && typeof detail === "object") return detail.message || JSON.stringify(detail);
  return detail || fallback;
}

async function parse(response, path) {
  const type = response.headers.get("content-type") || "";
  const data = response.status === 204 ? null : type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) throw new ApiError(response.status, detailOf(data, `${path}: HTTP ${response.status}`), path);
  return data;
}

async function postPublic(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  return parse(response, path);
}

function save(tokens) {
  session = {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_at: Date.now() + tokens.expires_in * 1000,
    user: tokens.user,
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  scheduleRefresh();
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const wait = Math.max(session.expires_at - Date.now() - REFRESH_MARGIN_MS, 1000);
  refreshTimer = setTimeout(() => refresh().catch(() => end("Your session has ended; sign in again.")), wait);
}

let refreshing = null;

// One refresh at a time: a refresh token is single-use, and a second concurrent use ends the session.
export function refresh() {
  if (!refreshing) {
    refreshing = postPublic("/auth/refresh", { refresh_token: session.refresh_token })
      .then(save)
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

// The stored session if it is still usable (refreshed if its access token expired), else null.
export async function resume() {
  try {
    session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch (error) {
    session = null;
  }
  if (!session) return null;
  if (session.expires_at > Date.now()) {
    scheduleRefresh();
    return session;
  }
  try {
    await refresh();
    return session;
  } catch (error) {
    forget();
    return null;
  }
}

export function requestCode(governmentId, mobile) {
  return postPublic("/auth/login", { government_id: governmentId, mobile });
}

export async function verifyCode(governmentId, mobile, code) {
  save(await postPublic("/auth/verify", { government_id: governmentId, mobile, code }));
  return session;
}

function forget() {
  clearTimeout(refreshTimer);
  session = null;
  photos.clear();
  sessionStorage.removeItem(SESSION_KEY);
}

export async function signOut() {
  if (session) {
    const token = session.access_token;
    fetch("/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
  }
  forget();
}

function end(message) {
  forget();
  onEnded(message);
}

// fetch() with the access token; one refresh and retry on 401. Returns the Response (any status).
export async function call(path, options = {}, retried = false) {
  if (!session) throw new ApiError(401, "not signed in", path);
  const headers = { Accept: "application/json", ...(options.headers || {}), Authorization: `Bearer ${session.access_token}` };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && !retried) {
    try {
      await refresh();
    } catch (error) {
      end("Your session has ended; sign in again.");
      throw new ApiError(401, "your session has ended", path);
    }
    return call(path, options, true);
  }
  return response;
}

export async function getJson(path) {
  return parse(await call(path), path);
}

// ``headers``: more request headers (an Idempotency-Key).
export async function send(method, path, body, headers = {}) {
  const options = { method, headers: { ...headers } };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  return parse(await call(path, options), path);
}

// A file the API sends (CSV): the bytes and the name it suggests.
export async function getFile(path) {
  const response = await call(path, { headers: { Accept: "*/*" } });
  if (!response.ok) await parse(response, path);
  const disposition = response.headers.get("content-disposition") || "";
  const named = /filename="([^"]+)"/.exec(disposition);
  return { blob: await response.blob(), name: named ? named[1] : "export.csv" };
}

// <img src> cannot carry the bearer token: fetch the image and show it as a data: URL. ``cache``: fetch
// each URL once per session (profile photos, whose every read is written to the audit trail).
export function loadImage(img, url, cache = false) {
  if (!url) return;
  let pending = cache ? photos.get(url) : undefined;
  if (!pending) {
    pending = call(url).then((response) => {
      if (!response.ok) throw new ApiError(response.status, `image ${url}: HTTP ${response.status}`, url);
      return response.blob();
    }).then(readAsDataUrl);
    if (cache) photos.set(url, pending);
  }
  pending.then((src) => { img.src = src; img.classList.remove("missing"); })
    .catch(() => { img.classList.add("missing"); img.alt = `${img.alt} (not available)`; });
}

export function websocketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

// The token rides as a subprotocol, never in the URL (URLs end up in logs).
export function openSocket(path) {
  return new WebSocket(websocketUrl(path), ["bearer", session.access_token]);
}
