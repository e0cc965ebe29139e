// Notices the operator must not miss, whatever screen is open: a dispatched unit that did not acknowledge
// in time (the feed's dispatch_timeout events), an alert left unacknowledged too long (escalated), and a
// camera its worker cannot analyse because the camera refuses the login (camera_health; kept until the
// login is accepted again, and filled on sign-in from GET /cameras).
// Each sounds the cue once and stays on screen until closed or the alert is taken on. Escalations are
// for supervisors: for them (and admins) the escalated, still unacknowledged alerts are also listed in a
// prominent panel, filled on sign-in from GET /alerts/escalations (stored, so one that escalated while
// nobody watched is there too) and kept current from the feed.
import { $, fill, formatTime, h, label } from "../dom.js";
import { getJson } from "../session.js";
import { cue } from "./cue.js";

const MAX_NOTICES = 8; // older ones drop off: a wall of notices is read by nobody

function unitOf(event) {
  return (event.change && event.change.unit_id) || "";
}

function timeoutText(alert, event) {
  const change = event.change || {};
  if (change.action === "dispatch_timeout") {
    return `Unit ${unitOf(event) || "?"} did not acknowledge the dispatch to ${alert.profile_name} in time.`;
  }
  // The step after a timeout: the alert went back to operators (no other unit was available).
  return `${alert.profile_name} is back with operators: ${change.reason || "no unit acknowledged in time"}.`;
}

const PANEL_OPEN_UP_TO = 3; // escalated alerts listed open; more fold to their count

export class NoticeBoard {
  constructor(ctx) {
    this.ctx = ctx;
    this.notices = new Map(); // `${kind}:${alert id}` -> element
    this.escalated = new Map(); // alert id -> row (supervisors' panel)
    this.supervising = ctx.can("alerts:escalations"); // supervisors and admins, per the permissions table
  }

  mount() {
    this.list = $("notices");
    this.panel = $("escalations");
    this.ctx.feed.subscribe((alert, event) => this.onAlert(alert, event));
    this.ctx.feed.subscribeHealth((message) => this.onCameraHealth(message.health.camera_id, message.health.state, message.summary));
    if (this.supervising) this.loadEscalations();
    this.loadCameraHealth();
  }

  async loadCameraHealth() {
    try {
      for (const camera of await getJson("/cameras")) {
        if (camera.health !== "ok") this.onCameraHealth(camera.id, camera.health, camera.health_summary);
      }
    } catch (error) {
      console.warn(error); // the feed's notices still come
    }
  }

  onCameraHealth(cameraId, state, summary) {
    const key = `camera_health:${cameraId}`;
    if (state === "ok") {
      this.drop(key);
      return;
    }
    const known = this.notices.get(key);
    if (known) {
      fill(known.querySelector(".body"), h("p", {}, summary));
      return;
    }
    const close = h("button", { type: "button", class: "secondary close", title: "Close this notice", onclick: () => this.drop(key) }, "×");
    const notice = h("div", { class: "notice camera_health", role: "alert", dataset: { kind: "camera_health", alert: cameraId } },
      h("strong", {}, "Camera login refused"), h("div", { class: "body" }, h("p", {}, summary)), close);
    this.notices.set(key, notice);
    this.list.prepend(notice);
    this.list.hidden = false;
  }

  onAlert(alert, event) {
    if (alert.status !== "new") this.dropEscalation(alert.id, "escalated");
    if (!event) return;
    if (event.kind === "dispatch_timeout") {
      this.post("dispatch_timeout", alert, "Dispatch not acknowledged", timeoutText(alert, event));
    } else if (event.kind === "escalated" && alert.status === "new") {
      if (this.supervising) {
        // Supervisors have the escalation list: one line there, not a second card for the same alert.
        this.listEscalation(alert, event.change ? event.change.at : alert.updated_at);
        cue("escalated");
        return;
      }
      const text = `${alert.profile_name} (P${alert.priority}, ${label(alert.category)}) has not been acknowledged since ${formatTime(alert.created_at)}.`;
      this.post("escalated", alert, "Escalated", text);
    }
  }

  // One notice per alert and kind: a later event about the same alert (the timed-out alert going back
  // to operators) adds its line to it and sounds no second cue.
  post(kind, alert, title, text) {
    const key = `${kind}:${alert.id}`;
    const known = this.notices.get(key);
    const line = h("p", {}, text);
    if (known) {
      known.querySelector(".body").append(line);
      this.list.prepend(known);
      return;
    }
    const close = h("button", { type: "button", class: "secondary close", title: "Close this notice", onclick: () => this.drop(key) }, "×");
    const notice = h("div", { class: `notice ${kind}`, role: "alert", dataset: { kind, alert: alert.id } },
      h("strong", {}, title, " ", h("a", { href: `#/alerts/${alert.id}` }, `alert ${alert.id}`)), h("div", { class: "body" }, line), close);
    this.notices.set(key, notice);
    this.list.prepend(notice);
    while (this.list.children.length > MAX_NOTICES) {
      const oldest = this.list.lastElementChild;
      this.notices.delete(`${oldest.dataset.kind}:${oldest.dataset.alert}`);
      oldest.remove();
    }
    this.list.hidden = false;
    cue(kind.replaceAll("_", "-"));
  }

  drop(key) {
    const notice = this.notices.get(key);
    if (notice) notice.remove();
    this.notices.delete(key);
    this.list.hidden = this.notices.size === 0;
  }

  dropEscalation(alertId, kind) {
    this.drop(`${kind}:${alertId}`);
    const row = this.escalated.get(alertId);
    if (!row) return;
    row.remove();
    this.escalated.delete(alertId);
    this.showPanel();
  }

  // The supervisors' list: escalated alerts still waiting for someone to take them on.
  async loadEscalations() {
    try {
      const page = await getJson("/alerts/escalations");
      for (const item of page.escalations) this.listEscalation(item.alert, item.escalated_at);
    } catch (error) {
      // The feed's escalated events still fill the panel; say why the backlog is missing.
      fill(this.panel, h("p", { class: "message error" }, `Escalated alerts could not be loaded: ${error.message}`)).hidden = false;
    }
  }

  listEscalation(alert, escalatedAt) {
    if (alert.status !== "new" || this.escalated.has(alert.id)) return;
    const row = h("li", { dataset: { alert: alert.id } },
      h("a", { href: `#/alerts/${alert.id}` }, alert.profile_name), " ",
      h("span", { class: `priority p${alert.priority}` }, `P${alert.priority}`), " ",
      h("span", { class: "muted" }, `${label(alert.category)} · ${alert.district || "no district"} · open since ${formatTime(alert.created_at)}, escalated ${formatTime(escalatedAt)}`));
    this.escalated.set(alert.id, row);
    this.showPanel();
  }

  // One line per alert under a count that folds the list away; open while short, and as the supervisor
  // left it once it has been opened or closed by hand.
  showPanel() {
    const rows = Array.from(this.escalated.values()).sort((a, b) => Number(b.dataset.alert) - Number(a.dataset.alert));
    const shown = this.panel.querySelector("details");
    const open = shown && shown.dataset.chosen ? shown.open : rows.length <= PANEL_OPEN_UP_TO;
    const details = h("details", { open, dataset: shown && shown.dataset.chosen ? { chosen: "1" } : {} },
      h("summary", { onclick: () => { details.dataset.chosen = "1"; } },
        `Escalated: ${rows.length} alert${rows.length === 1 ? "" : "s"} not acknowledged`),
      h("ul", {}, rows));
    fill(this.panel, details);
    this.panel.hidden = rows.length === 0;
  }
}
