// Operator console: the latest alerts, kept live over /ws/alerts. Plain JS, no framework.
"use strict";

const MAX_ROWS = 200;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;

const rows = new Map(); // alert id -> <tr>

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
  field("crop").src = `${alert.evidence.crop}?v=${encodeURIComponent(alert.updated_at)}`;
  field("photo").src = alert.profile_photo;
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

async function loadRecent() {
  const response = await fetch("/alerts?limit=100", { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`GET /alerts: ${response.status}`);
  const page = await response.json();
  page.alerts.slice().reverse().forEach((alert) => show(alert, false));
}

function connect(delay) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/alerts`);
  socket.addEventListener("open", () => {
    setLink(true);
    delay = RECONNECT_MIN_MS;
    // Catch up on anything missed while the socket was down.
    loadRecent().catch((error) => console.warn(error));
  });
  socket.addEventListener("message", (message) => {
    const event = JSON.parse(message.data);
    show(event.alert, true);
  });
  socket.addEventListener("close", () => {
    setLink(false);
    setTimeout(() => connect(Math.min(delay * 2, RECONNECT_MAX_MS)), delay);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  updateCount();
  connect(RECONNECT_MIN_MS);
});
