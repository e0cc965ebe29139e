// The officer app (a phone in the street): dispatch notifications with the photo, the reason and where to
// go, and the buttons to acknowledge, report on scene and resolve; notices from the records (arrests,
// missing persons, the persons the officer follows, their cases); person and vehicle search; a face
// checked against the watch lists from a photo taken on the spot; the officer's own watchlist; reports
// from the field (arrests, crimes kept on the phone while offline, missing persons, bodies found). Both kinds come over /ws/officer, the officer's durable channels: each is
// confirmed once shown, so a phone that was offline gets every one when it reconnects.
import { $ } from "../dom.js";
import { getJson, openSocket, refresh, resume, send, signOut, whenEnded } from "../session.js";
import { bindSignIn, showSignIn } from "../signin.js";
import { DispatchList } from "./dispatches.js";
import { mountFaceCheck } from "./face_check.js";
import { NOTICE_TYPES, NoticeList } from "./notices.js";
import { mountReports } from "./reports.js";
import { mountLibrary } from "./library.js";
import { mountSearch, mountWatchlist } from "./search.js";

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;
const MESSAGE_KEY = "safecity.officer.message";

let socket = null;
let list = null;
let notices = null;

function leave(message) {
  if (message) sessionStorage.setItem(MESSAGE_KEY, message);
  const ws = socket;
  socket = null;
  if (ws) ws.close(1000);
  history.replaceState(null, "", "/officer");
  location.reload();
}

function setLink(up) {
  $("link").textContent = up ? "live" : "reconnecting…";
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
    renewed.then(
      () => setTimeout(() => socket === ws && connect(Math.min(delay * 2, RECONNECT_MAX_MS)), delay),
      () => leave("Your session has ended; sign in again."),
    );
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
}

async function start() {
  const me = await getJson("/auth/me");
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
  mountReports($("tab-report"), me);
  mountLibrary($("tab-library"));
  window.addEventListener("hashchange", showTab);
  showTab();
  connect(RECONNECT_MIN_MS);
}

// Modules that wait for the deployment's settings (dom.js) may finish after DOMContentLoaded: start
// at once when the document is already parsed.
async function boot() {
  bindSignIn(() => start().catch((error) => leave(error.message)));
  whenEnded((message) => leave(message));
  $("logout").addEventListener("click", async () => {
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
