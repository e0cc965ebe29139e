// The officer app (a phone in the street): dispatch notifications with the photo, the reason and where to
// go, and the buttons to acknowledge, report on scene and resolve; notices from the records (arrests,
// missing persons, the persons the officer follows, their cases); person and vehicle search; a face
// checked against the watch lists from a photo taken on the spot; the officer's own watchlist; reports
// from the field (arrests, crimes kept on the phone while offline, missing persons, bodies found). Both kinds come over /ws/officer, the officer's durable channels: each is
// confirmed once shown, so a phone that was offline gets every one when it reconnects.
//
// It is an installable app (officer.webmanifest, the service worker at /officer-sw.js): once opened it
// opens again with no network at all, says so, and shows what waits on the phone and the library kept
// for offline reading. The session survives the app being closed (session.js: keepAcrossRestarts).
import { $ } from "../dom.js";
import {
  current, getJson, keepAcrossRestarts, openSocket, refresh, remember, resume, send, signOut, unreachable, whenEnded,
} from "../session.js";
import { bindSignIn, showSignIn } from "../signin.js";
import { DispatchList } from "./dispatches.js";
import { mountFaceCheck } from "./face_check.js";
import { NOTICE_TYPES, NoticeList } from "./notices.js";
import { mountReports } from "./reports.js";
import { mountLibrary } from "./library.js";
import { mountReminders } from "./reminders.js";
import { mountSearch, mountWatchlist } from "./search.js";

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;
const MESSAGE_KEY = "safecity.officer.message";

let socket = null;
let list = null;
let notices = null;
let reminders = null; // reads the reminders again (when the tab is opened)

function leave(message) {
  if (message) sessionStorage.setItem(MESSAGE_KEY, message);
  const ws = socket;
  socket = null;
  if (ws) ws.close(1000);
  history.replaceState(null, "", "/officer");
  location.reload();
}

function setLink(up) {
  $("link").textContent = up ? "live" : navigator.onLine === false ? "offline" : "reconnecting…";
  $("link").className = `link ${up ? "link-up" : "link-down"}`;
}

function connect(delay) {
  const ws = openSocket("/ws/officer");
  socket = ws;
  ws.addEventListener("open", () => {
    setLink(true);
    delay = RECONNECT_MIN_MS;
    list.reload().catch((error) => console.warn(error));
  });
  ws.addEventListener("message", (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "dispatch" || data.type === "cancelled") {
      list.notice(data);
      ws.send(JSON.stringify({ type: "received", seq: data.seq })); // shown: do not send it again
    } else if (NOTICE_TYPES.has(data.type)) {
      notices.add(data);
      ws.send(JSON.stringify({ type: "received", seq: data.seq }));
    } else if (data.type === "result") {
      list.updated(data.dispatch);
    } else if (data.type === "error") {
      list.failed(data.detail);
    }
  });
  ws.addEventListener("close", (event) => {
    if (socket !== ws) return;
    setLink(false);
    if (event.code === 4403) {
      leave("This app is for patrol officers: your role has no dispatch channel.");
      return;
    }
    const renewed = event.code === 4401 ? refresh() : Promise.resolve();
    const again = () => setTimeout(() => socket === ws && connect(Math.min(delay * 2, RECONNECT_MAX_MS)), delay);
    renewed.then(again, (error) => (unreachable(error) ? again() : leave("Your session has ended; sign in again.")));
  });
}

// Steps go over the socket when it is open (the answer comes back on it), else over HTTP.
async function step(dispatchId, action, reason) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ type: action, dispatch_id: dispatchId, reason: reason || undefined }));
    return;
  }
  const path = { ack: "ack", on_scene: "on-scene", resolve: "resolve", dismiss: "dismiss" }[action];
  const body = action === "dismiss" || action === "resolve" ? { reason: reason || null } : undefined;
  list.updated(await send("POST", `/dispatches/${dispatchId}/${path}`, body));
}

function showTab() {
  const tab = location.hash.replace("#", "") || "dispatches";
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== `tab-${tab}`;
  for (const link of document.querySelectorAll("#tabs a")) link.classList.toggle("active", link.dataset.tab === tab);
  if (tab === "notices" && notices) notices.seen();
  if (tab === "reminders" && reminders) reminders();
}

// What the officer is, from the server; with no network, what it said last time (kept with the session).
async function whoAmI() {
  try {
    const me = await getJson("/auth/me");
    remember(me);
    return me;
  } catch (error) {
    const kept = current() && current().me;
    if (unreachable(error) && kept) return kept;
    if (unreachable(error)) throw new Error("No network: signing in needs the network once; try again when the phone is online.");
    throw error;
  }
}

function showOffline() {
  const offline = navigator.onLine === false;
  $("offline").hidden = !offline;
  document.body.classList.toggle("is-offline", offline);
  if (offline) setLink(false);
}

function installable() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/officer-sw.js", { scope: "/officer" }).catch((error) => console.warn("no offline app:", error.message));
}

async function start() {
  const me = await whoAmI();
  if (!me.permissions.includes("patrol:report")) {
    await signOut();
    leave(`This app is for patrol officers; your role (${me.role.replaceAll("_", " ")}) uses the command centre console.`);
    return;
  }
  $("status").hidden = false;
  $("app").hidden = false;
  $("tabs").hidden = false;
  list = new DispatchList(me, step);
  notices = new NoticeList(me, $("tab-notices"), $("notices-unread"));
  document.addEventListener("visibilitychange", () => location.hash === "#notices" && notices.seen());
  mountSearch($("tab-search"));
  if (me.permissions.includes("faces:search")) mountFaceCheck($("tab-face"));
  else document.querySelector("#tabs a[data-tab=face]").remove();
  mountWatchlist($("tab-watchlist"));
  mountReports($("tab-report"), me, (n) => {
    $("report-waiting").textContent = String(n);
    $("report-waiting").hidden = !n;
  });
  mountLibrary($("tab-library"));
  reminders = mountReminders($("tab-reminders"), $("reminders-due"));
  window.addEventListener("hashchange", showTab);
  showTab();
  connect(RECONNECT_MIN_MS);
}

// Modules that wait for the deployment's settings (dom.js) may finish after DOMContentLoaded: start
// at once when the document is already parsed.
async function boot() {
  keepAcrossRestarts();
  installable();
  showOffline();
  window.addEventListener("online", showOffline);
  window.addEventListener("offline", showOffline);
  bindSignIn(() => start().catch((error) => leave(error.message)));
  whenEnded((message) => leave(message));
  $("logout").addEventListener("click", async () => {
    const waiting = Number($("report-waiting").textContent || 0);
    const kept = `${waiting} report(s) wait on this phone: they stay here and are sent when you sign in again. Sign out?`;
    if (waiting && !confirm(kept)) return;
    await signOut();
    leave("");
  });
  const message = sessionStorage.getItem(MESSAGE_KEY) || "";
  sessionStorage.removeItem(MESSAGE_KEY);
  if (await resume()) start().catch((error) => leave(error.message));
  else showSignIn(message);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
