// A staff session in the browser: sign in (government ID + mobile -> SMS code), tokens in sessionStorage
// (gone when the tab closes), the access token refreshed before it expires, and API calls that carry it.
// Shared by the operator console and the officer app.
//
// The officer app is installed on the officer's phone and must survive being closed (a shift is spent
// opening and closing it, often with no signal), so it keeps its session in localStorage instead
// (keepAcrossRestarts): the tokens with the server's expiry, never longer. The trade-off: a token in
// localStorage outlives the tab, so a script running in the page could read it; the page's policy
// allows scripts from this origin only (script-src 'self', no inline script), the refresh token lives
// one shift (security.refresh_token_ttl_s) and is single-use, and the server still decides: sign-out
// revokes the session on the server and removes every token from the phone; a 401 that a refresh cannot
// mend removes them too; an administrator's revocation ends the session at its next call. Without
// network the app starts from what it kept (the officer's queue and library), and asks the server again
// as soon as there is one. An httpOnly cookie would hide the token from scripts, but every API call
// would then need CSRF protection and the WebSocket another way to authenticate.
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

const RETRY_REFRESH_MS = 30000; // a refresh that found no network is tried again this much later

let store = sessionStorage; // localStorage in the installed officer app (keepAcrossRestarts)
let session = null; // {access_token, refresh_token, expires_at, user, me}
let refreshTimer = null;
let onEnded = () => {};
const photos = new Map(); // image URL -> Promise of a data: URL (some image reads are audited: fetch once)

export function current() {
  return session;
}

// Keep the session in localStorage (the installed officer app): call before resume(). Another window's
// refresh or sign-out is followed here (one refresh token, used once, shared by the windows).
export function keepAcrossRestarts() {
  store = localStorage;
  window.addEventListener("storage", (event) => {
    if (event.key !== SESSION_KEY || !session) return;
    const stored = read();
    if (!stored) end("You signed out in another window.");
    else session = stored;
  });
}

function read() {
  try {
    return JSON.parse(store.getItem(SESSION_KEY) || "null");
  } catch (error) {
    return null;
  }
}

// What /auth/me said, kept with the session (and gone with it) for a start with no network.
export function remember(me) {
  if (!session) return;
  session.me = me;
  store.setItem(SESSION_KEY, JSON.stringify(session));
}

// A failure of the network (no answer), not a refusal from the server.
export function unreachable(error) {
  return !(error instanceof ApiError);
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
    me: session && session.me,
  };
  store.setItem(SESSION_KEY, JSON.stringify(session));
  scheduleRefresh();
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const wait = Math.max(session.expires_at - Date.now() - REFRESH_MARGIN_MS, 1000);
  refreshTimer = setTimeout(() => refresh().catch((error) => {
    if (unreachable(error)) refreshTimer = setTimeout(scheduleRefresh, RETRY_REFRESH_MS); // offline: later
    else end("Your session has ended; sign in again.");
  }), wait);
}

let refreshing = null;

// One refresh at a time: a refresh token is single-use, and a second concurrent use ends the session.
export function refresh() {
  const stored = read();
  if (stored && session && stored.refresh_token !== session.refresh_token && stored.expires_at > Date.now()) {
    session = stored; // another window refreshed already: its tokens are the live ones
    scheduleRefresh();
    return Promise.resolve(session);
  }
  if (!refreshing) {
    refreshing = postPublic("/auth/refresh", { refresh_token: session.refresh_token })
      .then(save)
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

// The stored session if it is still usable (refreshed if its access token expired), else null. With no
// network to refresh it, the stored session as it is (the app starts offline; the server decides later).
export async function resume() {
  session = read();
  if (!session) return null;
  if (session.expires_at > Date.now()) {
    scheduleRefresh();
    return session;
  }
  try {
    await refresh();
    return session;
  } catch (error) {
    if (unreachable(error)) {
      refreshTimer = setTimeout(scheduleRefresh, RETRY_REFRESH_MS);
      return session;
    }
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
  store.removeItem(SESSION_KEY);
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
      if (unreachable(error)) throw error; // no network now: the session stands
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
