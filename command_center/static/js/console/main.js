// The operator console: sign in, then the screens the caller's role may use (hash routing: #/alerts,
// #/alerts/12, #/map, #/stats, #/persons/7, ...). Screens a role cannot use are not in the navigation
// and show "not allowed" when their address is typed; the API refuses their calls either way.
import { $, fill, h } from "../dom.js";
import { getJson, resume, signOut, whenEnded } from "../session.js";
import { bindSignIn, showSignIn } from "../signin.js";
import { AlertsScreen } from "./alerts.js";
import { AuditScreen } from "./audit.js";
import { CamerasScreen } from "./cameras.js";
import { CheckinsScreen } from "./checkins.js";
import { CrossmatchScreen } from "./crossmatch.js";
import { bindSound } from "./cue.js";
import { FaceSearchScreen } from "./face_search.js";
import { LibraryScreen } from "./library.js";
import { HotelsScreen } from "./hotels.js";
import { ImportsScreen } from "./imports.js";
import { AlertFeed } from "./feed.js";
import { MapScreen } from "./map.js";
import { NoticeBoard } from "./notices.js";
import { PersonsScreen } from "./persons.js";
import { StatsScreen } from "./stats.js";
import { UnitsScreen } from "./units.js";
import { UsersScreen } from "./users.js";
import { VehiclesScreen } from "./vehicles.js";
import { WatchListsScreen } from "./watch_lists.js";
import { WatchlistScreen } from "./watchlist.js";

const MESSAGE_KEY = "safecity.message";

const SCREENS = [
  { id: "alerts", title: "Alerts", needs: "alerts:read", make: (ctx) => new AlertsScreen(ctx) },
  { id: "map", title: "Map", needs: "alerts:read", make: (ctx) => new MapScreen(ctx) },
  { id: "stats", title: "Statistics", needs: "stats:read", make: (ctx) => new StatsScreen(ctx) },
  { id: "persons", title: "Persons", needs: "persons:read", make: (ctx) => new PersonsScreen(ctx) },
  { id: "vehicles", title: "Vehicles", needs: "vehicles:read", make: (ctx) => new VehiclesScreen(ctx) },
  { id: "crossmatch", title: "Missing / UDR", needs: "missing:read", make: (ctx) => new CrossmatchScreen(ctx) },
  { id: "checkins", title: "Hotel check-ins", needs: "checkins:read", make: (ctx) => new CheckinsScreen(ctx) },
  { id: "watchlist", title: "Watchlist entries", needs: "watchlist:read", make: (ctx) => new WatchlistScreen(ctx) },
  { id: "lists", title: "Watch lists", needs: "watchlist:read", make: (ctx) => new WatchListsScreen(ctx) },
  { id: "facesearch", title: "Photo search", needs: "faces:search", make: (ctx) => new FaceSearchScreen(ctx) },
  { id: "library", title: "Library", needs: "library:read", make: (ctx) => new LibraryScreen(ctx) },
  { id: "imports", title: "Bulk import", needs: "persons:write", make: (ctx) => new ImportsScreen(ctx) },
  { id: "audit", title: "Audit log", needs: "audit:read", make: (ctx) => new AuditScreen(ctx) },
  // Administration: the control room's cameras and patrol units, staff accounts, hotels and their keys.
  { id: "cameras", title: "Cameras", needs: "alerts:read", make: (ctx) => new CamerasScreen(ctx) },
  { id: "units", title: "Patrol units", needs: "patrol:read", make: (ctx) => new UnitsScreen(ctx) },
  { id: "users", title: "Staff accounts", needs: "users:manage", make: (ctx) => new UsersScreen(ctx) },
  { id: "hotels", title: "Hotels and keys", needs: "integrations:manage", make: (ctx) => new HotelsScreen(ctx) },
];

let ctx = null;
const mounted = new Map(); // screen id -> {screen, section}

// Leave the console: the page is reloaded so that nothing of the last session stays in memory.
function leave(message) {
  if (message) sessionStorage.setItem(MESSAGE_KEY, message);
  if (ctx && ctx.feed) ctx.feed.stop();
  history.replaceState(null, "", "/");
  location.reload();
}

async function start() {
  const me = await getJson("/auth/me");
  const permissions = new Set(me.permissions);
  ctx = { me, can: (p) => permissions.has(p), cameras: new Map(), feed: null };
  if (ctx.can("alerts:read")) {
    const cameras = await getJson("/cameras");
    for (const camera of cameras) ctx.cameras.set(camera.id, camera);
    ctx.feed = new AlertFeed(() => leave("Your role may not watch live alerts."), () => leave("Your session has ended; sign in again."));
  }
  $("who").textContent = `${me.name} (${me.role.replaceAll("_", " ")})`;
  $("status").hidden = false;
  $("console").hidden = false;
  buildNav();
  if (ctx.feed) {
    mountScreen(SCREENS[0]); // the alert list listens from the start, so its cue sounds on any screen
    new NoticeBoard(ctx).mount(); // timeouts and escalations show over every screen
    ctx.feed.start();
  } else {
    $("link").hidden = true; // no live alerts for this role: no feed, no count, no cue
    $("alert-count").hidden = true;
    $("sound").hidden = true;
  }
  window.addEventListener("hashchange", route);
  route();
}

function allowed() {
  return SCREENS.filter((s) => ctx.can(s.needs));
}

function buildNav() {
  const links = allowed().map((s) => h("a", { href: `#/${s.id}`, id: `nav-${s.id}`, dataset: { screen: s.id } }, s.title));
  if (ctx.can("patrol:report")) links.push(h("a", { href: "/officer", id: "nav-officer-app" }, "Officer app"));
  fill($("nav"), links);
  $("nav").hidden = false;
}

function mountScreen(spec) {
  let found = mounted.get(spec.id);
  if (!found) {
    const section = h("section", { class: "screen", id: `screen-${spec.id}`, hidden: true });
    $("screens").append(section);
    const screen = spec.make(ctx);
    screen.mount(section);
    found = { screen, section };
    mounted.set(spec.id, found);
  }
  return found;
}

function route() {
  const [id, ...params] = location.hash.replace(/^#\/?/, "").split("/");
  const choices = allowed();
  const spec = SCREENS.find((s) => s.id === id);
  for (const { section } of mounted.values()) section.hidden = true;
  $("denied").hidden = true;
  if (!id) {
    if (choices.length) location.replace(`#/${choices[0].id}`);
    else fill($("denied"), h("p", {}, "Your role has no screens in this console.")).hidden = false;
    return;
  }
  if (!spec || !ctx.can(spec.needs)) {
    fill($("denied"), h("h2", {}, "Not allowed"),
      h("p", {}, spec ? `Your role (${ctx.me.role.replaceAll("_", " ")}) may not use the ${spec.title} screen.` : "There is no such screen.")).hidden = false;
    markNav(null);
    return;
  }
  const { screen, section } = mountScreen(spec);
  section.hidden = false;
  markNav(spec.id);
  if (screen.show) screen.show(params.map(decodeURIComponent));
}

function markNav(id) {
  for (const link of $("nav").querySelectorAll("a[data-screen]")) {
    link.classList.toggle("active", link.dataset.screen === id);
    if (link.dataset.screen === id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// Modules that wait for the deployment's settings (dom.js) may finish after DOMContentLoaded: start
// at once when the document is already parsed.
async function boot() {
  bindSignIn(() => start().catch((error) => leave(error.message)));
  bindSound();
  whenEnded((message) => leave(message));
  $("logout").addEventListener("click", async () => {
    await signOut();
    leave("");
  });
  const message = sessionStorage.getItem(MESSAGE_KEY) || "";
  sessionStorage.removeItem(MESSAGE_KEY);
  if (await resume()) {
    start().catch((error) => leave(error.message));
  } else {
    showSignIn(message);
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
