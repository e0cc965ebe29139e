// The officer's dispatches: one card per dispatch with the photo, whom or what to look for, why, and where;
// buttons for the next step. The notice (photo, reason, place) arrives once on the channel and is kept
// in sessionStorage, so a reload of the page still shows it; the status comes from the API.
import { $, fill, formatDistance, formatDuration, formatTime, h, label } from "../dom.js";
import { getJson, send } from "../session.js";

const NOTICES_KEY = "safecity.officer.notices";
const CLOSED = new Set(["resolved", "dismissed", "timed_out", "superseded", "recalled"]);
const POSITION_EVERY_MS = 10000;

function loadNotices() {
  try {
    return new Map(JSON.parse(sessionStorage.getItem(NOTICES_KEY) || "[]"));
  } catch (error) {
    return new Map();
  }
}

export class DispatchList {
  constructor(me, step) {
    this.me = me;
    this.step = step;
    this.notices = loadNotices(); // dispatch id -> notice
    this.status = new Map(); // dispatch id -> dispatch status
    this.lastFix = 0;
    this.message = h("p", { class: "message", id: "officer-message", role: "status" });
    $("tab-dispatches").prepend(this.message);
  }

  keep() {
    try {
      sessionStorage.setItem(NOTICES_KEY, JSON.stringify(Array.from(this.notices.entries()).slice(-20)));
    } catch (error) {
      console.warn("notices not kept:", error);
    }
  }

  async reload() {
    const home = await getJson("/dispatches/mine");
    this.unit = home.unit;
    for (const d of home.dispatches) this.status.set(d.id, d.status);
    this.open = new Set(home.dispatches.map((d) => d.id));
    this.renderUnit();
    this.render();
  }

  notice(data) {
    const notice = data.notice;
    this.notices.set(notice.dispatch_id, notice);
    if (data.status) this.status.set(notice.dispatch_id, data.status);
    if (data.type === "dispatch") (this.open ||= new Set()).add(notice.dispatch_id);
    this.keep();
    this.render();
    if (data.type === "dispatch" && navigator.vibrate) navigator.vibrate([200, 100, 200]);
  }

  updated(dispatch) {
    this.status.set(dispatch.id, dispatch.status);
    this.fill(this.message, `Dispatch ${dispatch.id}: ${label(dispatch.status)}`, "info");
    this.render();
  }

  failed(detail) {
    this.fill(this.message, typeof detail === "string" ? detail : JSON.stringify(detail), "error");
  }

  fill(el, text, kind) {
    el.textContent = text;
    el.className = `message ${kind}`;
  }

  render() {
    const ids = Array.from(new Set([...(this.open || []), ...this.notices.keys()]))
      .filter((id) => !CLOSED.has(this.status.get(id)) || (this.open && this.open.has(id)))
      .sort((a, b) => b - a);
    fill($("dispatches"), ids.map((id) => this.card(id, this.notices.get(id))));
    $("no-dispatches").hidden = ids.length > 0;
  }

  card(id, notice) {
    const status = this.status.get(id) || "pending";
    const cancelled = notice && notice.kind === "cancelled";
    const buttons = [];
    const act = (action, text, extra = {}) => h("button", { type: "button", class: `step-${action}`, ...extra, onclick: () => this.act(id, action) }, text);
    if (!cancelled && !CLOSED.has(status)) {
      if (status === "pending") buttons.push(act("ack", "Acknowledge"));
      if (status === "pending" || status === "acknowledged") buttons.push(act("on_scene", "On scene"));
      if (status === "acknowledged" || status === "on_scene") buttons.push(act("resolve", "Resolve"));
      buttons.push(act("dismiss", "Not the person / vehicle", { class: "danger step-dismiss" }));
    }
    if (!notice) {
      return h("article", { class: "dispatch", dataset: { dispatch: id, status } },
        h("h2", {}, `Dispatch ${id}`), h("p", { class: "muted" }, "Details were shown on another device."),
        h("p", {}, h("span", { class: "badge" }, label(status))), h("div", { class: "buttons" }, buttons));
    }
    const photo = notice.photo_jpeg ? h("img", { class: "evidence", src: `data:image/jpeg;base64,${notice.photo_jpeg}`, alt: `what the camera saw: ${notice.subject.name}` }) : null;
    const where = notice.latitude !== null && notice.latitude !== undefined ? `${notice.latitude.toFixed(5)}, ${notice.longitude.toFixed(5)}` : "";
    return h("article", { class: `dispatch p${notice.priority}${cancelled ? " cancelled" : ""}`, dataset: { dispatch: id, status } },
      h("header", {}, h("h2", {}, notice.subject.name), h("span", { class: `priority p${notice.priority}` }, `P${notice.priority}`)),
      cancelled ? h("p", { class: "message error" }, `Stood down: ${notice.cancel_reason || "cancelled"}`) : null,
      h("div", { class: "what" }, photo, h("div", {},
        h("p", { class: "reason" }, notice.reason),
        notice.note ? h("p", { class: "note" }, `Operator: ${notice.note}`) : null,
        h("p", { class: "category" }, label(notice.category)))),
      h("dl", { class: "facts" },
        h("dt", {}, "Where"), h("dd", {}, notice.camera_name || notice.camera_id, where ? h("div", { class: "muted" }, where) : null),
        h("dt", {}, "Distance"), h("dd", {}, `${formatDistance(notice.distance_m)}${notice.eta_s ? ` · about ${formatDuration(notice.eta_s)}` : ""}`),
        h("dt", {}, "Acknowledge by"), h("dd", {}, formatTime(notice.ack_deadline)),
        h("dt", {}, "Status"), h("dd", {}, h("span", { class: `badge dispatch-${status}`, id: `dispatch-status-${id}` }, label(status)))),
      h("div", { class: "buttons" }, buttons));
  }

  async act(id, action) {
    let reason;
    if (action === "dismiss") {
      reason = window.prompt("Why is it not the person or vehicle? (at least 5 characters)");
      if (!reason || reason.trim().length < 5) return;
    }
    try {
      await this.step(id, action, reason && reason.trim());
    } catch (error) {
      this.failed(error.message);
    }
  }

  renderUnit() {
    const box = $("unit");
    if (!this.unit) {
      fill(box, h("p", { class: "muted" }, "You are not in a patrol unit: a supervisor assigns you to one."));
      return;
    }
    const duty = h("select", { id: "duty", onchange: () => this.setDuty(duty.value) },
      ["available", "busy", "off_duty"].map((s) => h("option", { value: s, selected: s === this.unit.duty_status }, label(s))));
    const share = h("button", { type: "button", class: "secondary", id: "share-location", onclick: () => this.shareLocation(share) }, "Share my location");
    fill(box, h("strong", {}, this.unit.id), ` · ${this.unit.name} · `, duty, " ", share);
  }

  async setDuty(value) {
    try {
      this.unit = await send("POST", "/patrol/status", { duty_status: value });
      this.fill(this.message, `Unit is ${label(this.unit.duty_status)}`, "info");
    } catch (error) {
      this.failed(error.message);
    }
  }

  // The unit's position for dispatch suggestions and the map, at most every 10 s while the page is open.
  shareLocation(button) {
    if (!navigator.geolocation) {
      this.failed("This device cannot share its location.");
      return;
    }
    button.disabled = true;
    button.textContent = "Sharing location";
    navigator.geolocation.watchPosition((fix) => {
      if (Date.now() - this.lastFix < POSITION_EVERY_MS) return;
      this.lastFix = Date.now();
      const body = { latitude: fix.coords.latitude, longitude: fix.coords.longitude, accuracy_m: fix.coords.accuracy, recorded_at: new Date(fix.timestamp).toISOString() };
      send("POST", "/patrol/position", body).catch((error) => this.failed(error.message));
    }, (error) => this.failed(`location: ${error.message}`), { enableHighAccuracy: true, maximumAge: 5000 });
  }
}
