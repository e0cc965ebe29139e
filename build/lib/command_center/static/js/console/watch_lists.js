// Watch lists (#/lists, #/lists/7): every list the caller may see with its mode, where it is live and
// the threshold calibrated for its size, in words; one list in detail with, for its editors, the form
// that changes it (threshold previewed as the target moves), its members, and how its alerts were
// judged per camera. Those who may see a list but not change it get the same facts read-only. Users who
// may manage lists start new ones.
import { $, fill, formatCount, formatTime, h, label, say } from "../dom.js";
import { table } from "../records.js";
import { getJson } from "../session.js";
import { ListForm } from "./list_form.js";
import { MembersPanel } from "./list_members.js";
import { PerformancePanel } from "./list_performance.js";
import { grantText, modeBadge, oneIn, percent, perCameraHour, whereLive } from "./list_words.js";

export class WatchListsScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.lists = [];
    this.detail = null;
  }

  mount(container) {
    this.archived = h("input", { type: "checkbox", id: "lists-archived", onchange: () => this.load() });
    this.message = h("p", { class: "message", id: "lists-message", role: "status" });
    this.results = h("div", { id: "lists-results" });
    this.newPanel = h("section", { class: "panel", id: "list-new", hidden: true });
    this.detailBox = h("div", { id: "list-detail-box" });
    const manage = this.ctx.can("watchlists:manage")
      ? h("button", { type: "button", id: "list-new-open", onclick: () => this.openNew() }, "New list")
      : null;
    fill(container, h("header", { class: "screen-head" }, h("h2", {}, "Watch lists"), manage,
      h("label", { class: "check" }, this.archived, " Show archived lists")),
    h("p", { class: "muted" }, "LIVE lists raise camera alerts where they are live, at a threshold calibrated for their size " +
      "and false-alert target; search lists only answer photo searches, for a person to judge."),
    this.newPanel, this.message, this.results, this.detailBox);
  }

  async show(params) {
    await Promise.all([this.load(), this.loadCameras()]);
    const id = Number(params[0]);
    if (id) this.open(id);
    else this.close();
  }

  // Fresh cameras on every visit: their own thresholds change from this screen and elsewhere.
  async loadCameras() {
    if (!this.ctx.can("alerts:read")) return;
    try {
      for (const camera of await getJson("/cameras")) this.ctx.cameras.set(camera.id, camera);
    } catch (error) {
      console.warn(error);
    }
  }

  async load() {
    try {
      this.lists = await getJson(`/watchlists${this.archived.checked ? "?archived=true" : ""}`);
      this.renderTable();
    } catch (error) {
      fill(this.results);
      say(this.message, error.message, "error");
    }
  }

  renderTable() {
    const ctx = this.ctx;
    const rows = this.lists.map((w) => ({ ...w, __attrs: { dataset: { list: w.id }, class: this.detail && this.detail.w.id === w.id ? "selected" : null } }));
    say(this.message, `${this.lists.length} list${this.lists.length === 1 ? "" : "s"} you may see`, "");
    fill(this.results, table([
      ["Name", (w) => [h("a", { href: `#/lists/${w.id}`, class: "name" }, w.name), w.description ? h("div", { class: "muted" }, w.description) : null]],
      ["Purpose", (w) => label(w.purpose)],
      ["Mode", (w) => modeBadge(w)],
      ["Priority", (w) => h("span", { class: `priority p${w.priority}` }, `P${w.priority}`)],
      ["Members", (w) => formatCount(w.members)],
      ["Where live", (w) => whereLive(ctx, w)],
      ["Threshold", (w) => [h("strong", { class: "similarity threshold" }, `≥ ${w.threshold.toFixed(3)}`), h("div", { class: "muted note" }, w.calibration_note)]],
      ["False alerts per camera-hour", (w) => h("span", { class: "per-hour" }, perCameraHour(w.false_alerts_per_camera_hour))],
      ["", (w) => (w.may_edit ? "you may change it" : h("span", { class: "muted" }, "read-only"))],
    ], rows, { id: "lists-table" }));
  }

  openNew() {
    const form = new ListForm(this.ctx, null, (created) => {
      this.newPanel.hidden = true;
      location.hash = `#/lists/${created.id}`;
    });
    fill(this.newPanel, h("header", {}, h("h3", {}, "New watch list"),
      h("button", { type: "button", class: "secondary", onclick: () => { this.newPanel.hidden = true; } }, "Cancel")), form.element());
    this.newPanel.hidden = false;
  }

  close() {
    this.detail = null;
    fill(this.detailBox);
    this.renderTable();
  }

  async open(id) {
    try {
      const w = await getJson(`/watchlists/${id}`);
      this.detail = new ListDetail(this.ctx, w, (after) => this.changed(after));
      fill(this.detailBox, this.detail.element());
      this.renderTable();
      $("list-detail").scrollIntoView({ block: "start" });
    } catch (error) {
      fill(this.detailBox, h("p", { class: "message error" }, error.message));
    }
  }

  // A list changed from its detail: its row and its detail follow.
  changed(after) {
    const at = this.lists.findIndex((w) => w.id === after.id);
    if (at >= 0) this.lists[at] = after;
    this.detail.update(after);
    this.renderTable();
  }
}

class ListDetail {
  constructor(ctx, w, onChanged) {
    this.ctx = ctx;
    this.w = w;
    this.onChanged = onChanged;
    this.members = new MembersPanel(ctx, w, onChanged);
    this.performance = ctx.can("stats:read") ? new PerformancePanel(ctx, w, onChanged) : null;
  }

  element() {
    this.head = h("header", {});
    this.facts = h("dl", { class: "facts", id: "list-facts" });
    this.editBox = h("div", { id: "list-edit" });
    this.note = h("p", { class: "message", id: "list-detail-message", role: "status" });
    this.panel = h("article", { class: "panel list-detail", id: "list-detail", dataset: { list: this.w.id } },
      this.head, this.facts, this.note, this.editBox, this.members.element(), this.performance ? this.performance.element() : null);
    this.render();
    return this.panel;
  }

  update(w) {
    this.w = w;
    say(this.note, "");
    this.render();
    this.members.update(w);
    if (this.performance) this.performance.update(w);
  }

  render() {
    const w = this.w;
    fill(this.head, h("h3", {}, w.name, " ", modeBadge(w), " ", h("span", { class: `priority p${w.priority}` }, `P${w.priority}`)),
      h("button", { type: "button", class: "secondary", onclick: () => { location.hash = "#/lists"; } }, "Close"));
    const facts = [
      ["Purpose", label(w.purpose)], ["Description", w.description || "—"],
      ["Where live", whereLive(this.ctx, w)],
      ["Threshold", `similarity ≥ ${w.threshold.toFixed(3)} (one frame ≥ ${w.strong_threshold.toFixed(3)} decides at once)`],
      ["Calibration", w.calibration_note],
      ["False alerts per camera-hour", perCameraHour(w.false_alerts_per_camera_hour)],
      ["Genuine faces reaching it", percent(w.genuine_pass)],
      ["Target", `at most ${oneIn(w.target_fpir)} passing a camera raises a false alert`],
      ["Raised floor", w.threshold_floor === null ? "none" : `≥ ${w.threshold_floor.toFixed(3)}`],
      ["Acknowledgement", w.requires_ack ? "required (unacknowledged alerts escalate)" : "not required"],
      ["Who may see it", grantText(w.viewers, "everyone who may read the watchlist")],
      ["Who may change it", grantText(w.editors, "administrators only")],
      ["Last changed", `${formatTime(w.updated_at)} by ${w.updated_by.split(":").slice(2).join(":") || w.updated_by}`],
    ];
    fill(this.facts, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    if (w.may_edit) {
      const saved = (after) => {
        this.onChanged(after);
        say(this.note, `Saved. ${after.calibration_note}`, "info");
      };
      fill(this.editBox, h("h4", {}, "Change this list"), new ListForm(this.ctx, w, saved).element());
    } else {
      fill(this.editBox, h("p", { class: "muted", id: "list-read-only" }, "You may see this list but not change it."));
    }
  }
}
