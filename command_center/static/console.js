// Operator console: sign in (government ID + mobile -> SMS code), then the latest alerts, kept live
// over /ws/alerts. Tokens live in sessionStorage (gone when the tab closes); the access token is
// refreshed before it expires. Plain JS, no framework.
"use strict";

const MAX_ROWS = 200;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;
const REFRESH_MARGIN_MS = 60000;
const SESSION_KEY = "safecity.session";

const rows = new Map(); // alert id -> <tr>
const photos = new Map(); // image URL -> Promise of a data: URL (each fetch of a profile photo is audited)
let session = null; // {access_token, refresh_token, expires_at, user}
let socket = null;
let refreshTimer = null;

function $(id) {
  return document.getElementById(id);
}

function formatTime(iso) {
  const when = new Date(iso);
  return when.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

function fill(row, alert) {
  const field = (name) => row.querySelector(`[data-field="${name}"]`);
  // The crop URL stays the same while better evidence replaces it; bust the cache on change.
  loadImage(field("crop"), `${alert.evidence.crop}?v=${encodeURIComponent(alert.updated_at)}`, false);
  loadImage(field("photo"), alert.profile_photo, true);
  field("name").textContent = alert.profile_name;
  field("category").textContent = alert.category;
  field("similarity").textContent = alert.best_similarity.toFixed(2);
  field("camera").textContent = alert.camera_id;
  field("time").textContent = formatTime(alert.last_seen);
  field("time").dateTime = alert.last_seen;
  field("hits").textContent = String(alert.hit_count);
}

function newRow(alert) {
  const row = $("alert-row").content.firstElementChild.cloneNode(true);
  row.dataset.id = String(alert.id);
  fill(row, alert);
  return row;
}

function flash(row) {
  row.classList.add("fresh");
  setTimeout(() => row.classList.remove("fresh"), 600);
}

function insertNewestFirst(row, id) {
  const body = $("alerts");
  const after = Array.from(body.children).find((other) => Number(other.dataset.id) < id);
  body.insertBefore(row, after || null);
}

function show(alert, isLive) {
  let row = rows.get(alert.id);
  if (row) {
    fill(row, alert);
  } else {
    row = newRow(alert);
    rows.set(alert.id, row);
    insertNewestFirst(row, alert.id);
    trim();
  }
  if (isLive) flash(row);
  updateCount();
}

function trim() {
  const body = $("alerts");
  while (body.children.length > MAX_ROWS) {
    const last = body.lastElementChild;
    rows.delete(Number(last.dataset.id));
    last.remove();
  }
}

function updateCount() {
  const n = rows.size;
  $("alert-count").textContent = `${n} alert${n === 1 ? "" : "s"}`;
  $("empty").hidden = n > 0;
}

function setLink(up) {
  const link = $("link");
  link.textContent = up ? "live" : "reconnecting…";
  link.className = `link ${up ? "link-up" : "link-down"}`;
}

// -- session -------------------------------------------------------------------------------------------

function saveSession(tokens) {
  session = {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_at: Date.now() + tokens.expires_in * 1000,
    user: tokens.user,
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  scheduleRefresh();
}

function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch (error) {
    return null;
  }
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const wait = Math.max(session.expires_at - Date.now() - REFRESH_MARGIN_MS, 1000);
  refreshTimer = setTimeout(() => refresh().catch(() => signOut("Your session has ended; sign in again.")), wait);
}

async function postJson(path, body, headers = {}) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data && data.detail;
    const text = Array.isArray(detail) ? detail.map((d) => d.msg).join("; ") : detail;
    throw new Error(text || `${path}: ${response.status}`);
  }
  return data;
}

async function refresh() {
  saveSession(await postJson("/auth/refresh", { refresh_token: session.refresh_token }));
}

// A GET with the access token; one refresh and retry on 401.
async function api(path, retried = false) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${session.access_token}` } });
  if (response.status === 401 && !retried) {
    await refresh();
    return api(path, true);
  }
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  return response;
}

function asDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

// <img src> cannot carry the bearer token: fetch the image and show it as a data: URL.
function loadImage(img, url, cache) {
  let pending = cache ? photos.get(url) : undefined;
  if (!pending) {
    pending = api(url).then((response) => response.blob()).then(asDataUrl);
    if (cache) photos.set(url, pending);
  }
  pending.then((src) => { img.src = src; }).catch((error) => console.warn(error));
}

// -- sign in and out -------------------------------------------------------------------------------------

function showSignIn(message) {
  $("console").hidden = true;
  $("status").hidden = true;
  $("signin").hidden = false;
  $("login-form").hidden = false;
  $("code-form").hidden = true;
  $("signin-error").textContent = message || "";
}

function credentials() {
  return { government_id: $("government-id").value.trim(), mobile: $("mobile").value.trim() };
}

async function requestCode(event) {
  event.preventDefault();
  $("signin-error").textContent = "";
  try {
    await postJson("/auth/login", credentials());
    $("login-form").hidden = true;
    $("code-form").hidden = false;
    $("code").focus();
  } catch (error) {
    $("signin-error").textContent = error.message;
  }
}

async function verifyCode(event) {
  event.preventDefault();
  try {
    saveSession(await postJson("/auth/verify", { ...credentials(), code: $("code").value.trim() }));
    $("code").value = "";
    start();
  } catch (error) {
    $("signin-error").textContent = error.message;
  }
}

async function signOut(message) {
  clearTimeout(refreshTimer);
  if (session) {
    const token = session.access_token;
    postJson("/auth/logout", undefined, { Authorization: `Bearer ${token}` }).catch(() => {});
  }
  session = null;
  sessionStorage.removeItem(SESSION_KEY);
  if (socket) socket.close(1000);
  socket = null;
  rows.clear();
  photos.clear();
  $("alerts").replaceChildren();
  showSignIn(message);
}

function start() {
  $("signin").hidden = true;
  $("console").hidden = false;
  $("status").hidden = false;
  $("who").textContent = `${session.user.name} (${session.user.role})`;
  scheduleRefresh();
  updateCount();
  connect(RECONNECT_MIN_MS);
}

// -- alerts --------------------------------------------------------------------------------------------

async function loadRecent() {
  const page = await (await api("/alerts?limit=100")).json();
  page.alerts.slice().reverse().forEach((alert) => show(alert, false));
}

function connect(delay) {
  if (!session) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // The token rides as a subprotocol, never in the URL (URLs end up in logs).
  const ws = new WebSocket(`${scheme}://${location.host}/ws/alerts`, ["bearer", session.access_token]);
  socket = ws;
  ws.addEventListener("open", () => {
    setLink(true);
    delay = RECONNECT_MIN_MS;
    // Catch up on anything missed while the socket was down.
    loadRecent().catch((error) => console.warn(error));
  });
  ws.addEventListener("message", (message) => {
    const event = JSON.parse(message.data);
    show(event.alert, true);
  });
  ws.addEventListener("close", (event) => {
    if (socket !== ws) return; // signed out, or replaced
    setLink(false);
    if (event.code === 4403) {
      signOut("Your role may not watch live alerts.");
      return;
    }
    // 4401: the token expired or was refused; refresh it before reconnecting.
    const renewed = event.code === 4401 ? refresh() : Promise.resolve();
    renewed.then(
      () => setTimeout(() => connect(Math.min(delay * 2, RECONNECT_MAX_MS)), delay),
      () => signOut("Your session has ended; sign in again."),
    );
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", requestCode);
  $("code-form").addEventListener("submit", verifyCode);
  $("restart").addEventListener("click", () => showSignIn(""));
  $("logout").addEventListener("click", () => signOut(""));
  session = loadSession();
  if (session && session.expires_at > Date.now()) {
    start();
  } else if (session) {
    refresh().then(start, () => signOut("Your session has ended; sign in again."));
  } else {
    showSignIn("");
  }
});
