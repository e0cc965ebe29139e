// The alert screen: the live list (probe crop beside the enrolled photo or the hotlist entry), filters
// by type, camera, status and district, and the detail of the alert chosen (alert_detail.js). Those who
// act on alerts tick new ones (or every new one shown) and acknowledge them together.
import { $, fill, formatTime, h, label, pageConfig, query, say } from "../dom.js";
import { loadImage, send } from "../session.js";
import { AlertDetail } from "./alert_detail.js";
import { cue, isHighPriority } from "./cue.js";
import { listed } from "./subject.js";

const MAX_ROWS = 200;
const OPEN = new Set(["new", "acknowledged", "dispatched", "on_scene"]);
const STATUSES = ["new", "acknowledged", "dispatched", "on_scene", "resolved", "dismissed"];
// Every kind of alert as the command centre names it (each kind's module in command_center/alerts/kinds).
const KINDS = (pageConfig.alert_kinds || []).map((k) => [k.kind, k.title]);

function select(name, text, options) {
  return h("label", {}, text, h("select", { name, "data-filter": name },
    options.map(([value, shown]) => h("option", { value }, shown))));
}

export class AlertsScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.rows = new Map(); // alert id -> <tr>
    this.detail = new AlertDetail(ctx);
    this.filters = { kind: "", camera: "", status: "open", district: "" };
    this.acts = ctx.can("alerts:act");
    this.selected = new Set(); // ids of new alerts ticked for a bulk acknowledgement
  }

  mount(container) {
    const cameras = Array.from(this.ctx.cameras.values());
    const districts = Array.from(new Set(cameras.map((c) => c.district).filter(Boolean))).sort();
    this.form = h("form", { class: "filters", id: "alert-filters" },
      select("kind", "Type", [["", "All types"], ...KINDS]),
      select("camera", "Camera", [["", "All cameras"], ...cameras.map((c) => [c.id, c.name])]),
      select("status", "Status", [["open", "Open"], ["", "All"], ...STATUSES.map((s) => [s, label(s)])]),
      select("district", "District", [["", "All districts"], ...districts.map((d) => [d, d])]),
      this.acts ? this.bulkControls() : null,
      h("span", { class: "shown", id: "alerts-shown" }));
    this.form.addEventListener("change", () => this.changeFilters());
    this.body = h("tbody", { id: "alerts" });
    this.empty = h("p", { class: "empty", id: "empty" }, "No alerts match. New alerts appear here as they happen.");
    const table = h("table", { class: "alerts" },
      h("thead", {}, h("tr", {}, this.acts ? h("th", { class: "pick" }, this.selectAll) : null, ["Seen", "Enrolled / listed", "Subject", "Similarity", "Camera", "Last seen", "Priority", "Status"]
        .map((name) => h("th", {}, name)))),
      this.body);
    fill(container, this.form, h("div", { class: "split" }, h("div", { class: "list" }, table, this.empty), this.detail.mount()));
    this.ctx.feed.subscribe((alert, event) => this.onAlert(alert, event));
    for (const alert of this.ctx.feed.list().reverse()) this.onAlert(alert, null);
  }

  bulkControls() {
    this.selectAll = h("input", { type: "checkbox", id: "alerts-select-all", title: "Select every new alert shown", "aria-label": "select all new alerts shown" });
    this.selectAll.addEventListener("change", () => this.pickAll(this.selectAll.checked));
    this.bulkButton = h("button", { type: "button", id: "alerts-ack-selected", disabled: true, onclick: () => this.acknowledgeSelected() }, "Acknowledge selected");
    this.bulkMessage = h("span", { class: "message", id: "alerts-bulk-message", role: "status" });
    return h("span", { class: "bulk" }, this.bulkButton, this.bulkMessage);
  }

  pickAll(on) {
    this.selected.clear();
    for (const row of this.rows.values()) {
      const box = row.querySelector("input.pick");
      if (box && !box.disabled) {
        box.checked = on;
        if (on) this.selected.add(Number(row.dataset.id));
      }
    }
    this.count();
  }

  // One request per alert (each audited and announced on its own); what was refused is said with why.
  async acknowledgeSelected() {
    const ids = Array.from(this.selected).sort((a, b) => a - b);
    this.bulkButton.disabled = true;
    say(this.bulkMessage, `Acknowledging ${ids.length}…`);
    const refused = [];
    for (const id of ids) {
      try {
        await send("POST", `/alerts/${id}/acknowledge`);
        this.selected.delete(id);
      } catch (error) {
        refused.push(`alert ${id}: ${error.message}`);
      }
    }
    const done = `${ids.length - refused.length} of ${ids.length} acknowledged`;
    if (refused.length) say(this.bulkMessage, `${done}; ${refused.join("; ")}`, "error");
    else say(this.bulkMessage, done, "info");
    for (const id of ids) this.selected.delete(id);
    for (const alert of this.ctx.feed.list()) if (this.rows.has(alert.id)) this.fillRow(this.rows.get(alert.id), alert);
    this.count();
  }

  pickCell(alert) {
    const open = alert.status === "new";
    if (!open) this.selected.delete(alert.id);
    const box = h("input", { type: "checkbox", class: "pick", disabled: !open, checked: this.selected.has(alert.id),
      "aria-label": `select alert ${alert.id}`, title: open ? "Select for acknowledgement" : "Only a new alert is acknowledged" });
    box.addEventListener("click", (event) => event.stopPropagation());
    box.addEventListener("change", () => {
      if (box.checked) this.selected.add(alert.id);
      else this.selected.delete(alert.id);
      this.count();
    });
    return h("td", { class: "pick", onclick: (event) => event.stopPropagation() }, box);
  }

  show(params) {
    const id = Number(params[0]);
    for (const row of this.rows.values()) row.classList.toggle("selected", Number(row.dataset.id) === id);
    if (id) this.detail.open(id);
    else this.detail.close();
  }

  matches(alert) {
    const f = this.filters;
    if (f.kind && alert.kind !== f.kind) return false;
    if (f.camera && alert.camera_id !== f.camera) return false;
    if (f.district && alert.district !== f.district) return false;
    if (f.status === "open") return OPEN.has(alert.status);
    return !f.status || alert.status === f.status;
  }

  changeFilters() {
    for (const el of this.form.querySelectorAll("[data-filter]")) this.filters[el.name] = el.value;
    for (const row of this.rows.values()) row.remove();
    this.rows.clear();
    this.selected.clear();
    for (const alert of this.ctx.feed.list().reverse()) this.onAlert(alert, null);
    // Older alerts that match may not be in memory: ask the API for them (filtered at the source).
    const f = this.filters;
    const status = f.status === "open" ? "" : f.status;
    this.ctx.feed.load(`&${query({ camera_id: f.camera, status, kind: f.kind }).slice(1)}`).catch((e) => console.warn(e));
  }

  onAlert(alert, event) {
    // Escalations and dispatch timeouts sound with their notice (notices.js).
    if (event && event.kind === "created" && isHighPriority(alert)) cue();
    let row = this.rows.get(alert.id);
    if (!this.matches(alert)) {
      if (row) { row.remove(); this.rows.delete(alert.id); this.selected.delete(alert.id); }
      this.count();
      return;
    }
    if (row) {
      this.fillRow(row, alert);
    } else {
      row = this.newRow(alert);
      this.rows.set(alert.id, row);
      const after = Array.from(this.body.children).find((other) => Number(other.dataset.id) < alert.id);
      this.body.insertBefore(row, after || null);
      this.trim();
    }
    if (event) {
      row.classList.add("fresh");
      setTimeout(() => row.classList.remove("fresh"), 600);
    }
    this.count();
  }

  newRow(alert) {
    const row = h("tr", { class: "alert", dataset: { id: alert.id }, tabindex: "0" });
    row.addEventListener("click", () => { location.hash = `#/alerts/${alert.id}`; });
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") location.hash = `#/alerts/${alert.id}`; });
    this.fillRow(row, alert);
    return row;
  }

  fillRow(row, alert) {
    const camera = this.ctx.cameras.get(alert.camera_id);
    const crop = h("img", { class: "face", alt: "what the camera saw", width: 72, height: 72 });
    // The crop URL stays the same while better evidence replaces it; bust the cache on change.
    loadImage(crop, `${alert.evidence.crop}?v=${encodeURIComponent(alert.updated_at)}`);
    row.dataset.status = alert.status;
    row.dataset.kind = alert.kind;
    row.dataset.camera = alert.camera_id;
    row.classList.toggle("high", isHighPriority(alert));
    fill(row,
      this.acts ? this.pickCell(alert) : null,
      h("td", {}, crop),
      h("td", {}, listed(alert)),
      h("td", {}, h("div", { class: "name" }, alert.profile_name),
        h("div", { class: "category" }, `${label(alert.kind)} · ${label(alert.category)}`)),
      h("td", { class: "similarity" }, alert.best_similarity.toFixed(2)),
      h("td", {}, h("div", {}, camera ? camera.name : alert.camera_id), h("div", { class: "muted" }, alert.district)),
      h("td", {}, h("time", { datetime: alert.last_seen }, formatTime(alert.last_seen)),
        h("div", { class: "muted" }, `${alert.hit_count} sighting${alert.hit_count === 1 ? "" : "s"}`)),
      h("td", {}, h("span", { class: `priority p${alert.priority}` }, `P${alert.priority}`)),
      h("td", {}, h("span", { class: `badge status-${alert.status}` }, label(alert.status))));
  }

  trim() {
    while (this.body.children.length > MAX_ROWS) {
      const last = this.body.lastElementChild;
      this.rows.delete(Number(last.dataset.id));
      this.selected.delete(Number(last.dataset.id));
      last.remove();
    }
  }

  count() {
    const n = this.rows.size;
    $("alerts-shown").textContent = `${n} shown`;
    this.empty.hidden = n > 0;
    if (this.acts) {
      for (const id of this.selected) if (!this.rows.has(id)) this.selected.delete(id);
      const picked = this.selected.size;
      this.bulkButton.disabled = picked === 0;
      this.bulkButton.textContent = picked ? `Acknowledge selected (${picked})` : "Acknowledge selected";
      const boxes = Array.from(this.body.querySelectorAll("input.pick:not(:disabled)"));
      this.selectAll.checked = boxes.length > 0 && boxes.every((box) => box.checked);
    }
    const open = this.ctx.feed.list().filter((a) => OPEN.has(a.status)).length;
    $("alert-count").textContent = `${open} open alert${open === 1 ? "" : "s"}`;
  }
}
