// The live alert feed: the latest alerts, kept current over /ws/alerts (created, updated by any operator
// or officer, escalated), shared by the alert list, the alert detail and the map.
import { $ } from "../dom.js";
import { getJson, openSocket, refresh } from "../session.js";

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;
const KEEP = 500; // alerts held in memory; older ones are paged in from the API when asked for

export class AlertFeed {
  constructor(onForbidden, onEnded) {
    this.alerts = new Map(); // id -> alert (as GET /alerts/{id} returns it)
    this.listeners = new Set();
    this.healthListeners = new Set(); // listener(message): {type: "camera_health", summary, health}
    this.socket = null;
    this.onForbidden = onForbidden;
    this.onEnded = onEnded;
  }

  // listener(alert, event): event is the AlertEvent ({kind, change, ...}) or null for a page load.
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // Cameras a worker cannot analyse for a reason someone must fix (a refused login), and their recovery.
  subscribeHealth(listener) {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  put(alert, event) {
    const known = this.alerts.get(alert.id);
    if (known && known.updated_at > alert.updated_at && !event) return; // a stale page never wins
    this.alerts.set(alert.id, alert);
    if (this.alerts.size > KEEP) {
      const oldest = Math.min(...this.alerts.keys());
      this.alerts.delete(oldest);
    }
    for (const listener of this.listeners) listener(alert, event);
  }

  // Newest first.
  list() {
    return Array.from(this.alerts.values()).sort((a, b) => b.id - a.id);
  }

  async load(params = "") {
    const page = await getJson(`/alerts?limit=200${params}`);
    page.alerts.slice().reverse().forEach((alert) => this.put(alert, null));
    return page.alerts;
  }

  async fetchOne(id) {
    const alert = await getJson(`/alerts/${id}`);
    this.put(alert, null);
    return alert;
  }

  start() {
    this.connect(RECONNECT_MIN_MS);
  }

  stop() {
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000);
    this.alerts.clear();
  }

  setLink(up) {
    const link = $("link");
    link.textContent = up ? "live" : "reconnecting…";
    link.className = `link ${up ? "link-up" : "link-down"}`;
  }

  connect(delay) {
    const ws = openSocket("/ws/alerts");
    this.socket = ws;
    ws.addEventListener("open", () => {
      this.setLink(true);
      delay = RECONNECT_MIN_MS;
      this.load().catch((error) => console.warn(error)); // catch up on what was missed while down
    });
    ws.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      if (event.alert) this.put(event.alert, event);
      else if (event.type === "camera_health") for (const listener of this.healthListeners) listener(event);
    });
    ws.addEventListener("close", (event) => {
      if (this.socket !== ws) return; // signed out, or replaced
      this.setLink(false);
      if (event.code === 4403) {
        this.onForbidden();
        return;
      }
      // 4401: the token expired or was refused; refresh it before reconnecting.
      const renewed = event.code === 4401 ? refresh() : Promise.resolve();
      renewed.then(
        () => setTimeout(() => this.socket === ws && this.connect(Math.min(delay * 2, RECONNECT_MAX_MS)), delay),
        () => this.onEnded(),
      );
    });
  }
}
