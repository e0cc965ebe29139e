// How a watch list's alerts were judged, per camera, beside what its calibration expects: where false
// positives run above expectation, supervisors raise the list's threshold (its floor) or one camera's,
// each with a reason (audited). Counts only: no names, no images.
import { fill, h, say } from "../dom.js";
import { getJson, send } from "../session.js";
import { cameraName, percent, perCameraHour } from "./list_words.js";

const PERIODS = [[1, "last 24 hours"], [7, "last 7 days"], [30, "last 30 days"], [90, "last 90 days"]];
const STEP = 0.02; // what "raise" suggests above the threshold in force

function expected(x) {
  return x > 0 && x < 0.01 ? "< 0.01" : x.toFixed(2);
}

function suggested(threshold) {
  return Math.min(0.99, threshold + STEP).toFixed(3);
}

// An inline form: a similarity and a reason, then ``act(value, reason)``; ``clear`` adds a second button.
function raiseForm(id, value, act, clear) {
  const level = h("input", { name: "threshold", type: "number", min: 0.001, max: 0.99, step: 0.001, required: true, value, "aria-label": "new threshold" });
  const reason = h("input", { name: "reason", required: true, minlength: 5, maxlength: 500, placeholder: "Why? (audited)", "aria-label": "reason" });
  const form = h("form", { class: "inline raise", id }, level, reason, h("button", { type: "submit" }, "Raise"),
    clear ? h("button", { type: "button", class: "secondary", onclick: () => reason.reportValidity() && clear(reason.value.trim()) }, "Clear") : null);
  form.addEventListener("submit", (event) => { event.preventDefault(); act(Number(level.value), reason.value.trim()); });
  return form;
}

export class PerformancePanel {
  // ``onListChanged(view)``: the list after its threshold was raised here.
  constructor(ctx, w, onListChanged) {
    this.ctx = ctx;
    this.w = w;
    this.onListChanged = onListChanged;
  }

  element() {
    this.days = h("select", { id: "performance-days", onchange: () => this.load() }, PERIODS.map(([d, text]) => h("option", { value: d, selected: d === 7 }, text)));
    this.summary = h("p", { id: "performance-summary" });
    this.message = h("p", { class: "message", id: "performance-message", role: "status" });
    this.results = h("div", { id: "performance-results" });
    this.listRaise = h("div", { id: "raise-list-box" });
    this.load();
    return h("section", { class: "panel", id: "list-performance" },
      h("header", {}, h("h3", {}, "Alerts and verdicts per camera"), this.days),
      this.summary, this.listRaise, this.message, this.results);
  }

  update(w) {
    this.w = w;
    this.load();
  }

  async load() {
    const w = this.w;
    this.renderListRaise();
    try {
      const report = await getJson(`/watchlists/${w.id}/performance?days=${this.days.value}`);
      if (w !== this.w) return;
      this.summary.textContent = w.live
        ? `At similarity ≥ ${report.threshold.toFixed(3)} the calibration expects ${perCameraHour(report.false_alerts_per_camera_hour)} false alerts per camera-hour, ${expected(report.false_alerts_per_camera_hour * report.hours)} on each camera over the period. Where operators dismissed more than that, raise a threshold.`
        : "A search list raises no camera alerts: alerts counted here came while it was live.";
      // A list not live now watches no camera: only those where it raised alerts (while live) matter.
      const cameras = w.live ? report.cameras : report.cameras.filter((c) => c.alerts > 0);
      fill(this.results, cameras.length ? this.table(cameras) : h("p", { class: "muted" }, "No camera where this list is live, and no alert through it in the period."));
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  table(rows) {
    const manage = this.ctx.can("watchlists:manage");
    const head = ["Camera", "Alerts", "Confirmed", "False positives", "Open", "False-positive rate", "Expected false alerts", "Camera threshold", manage ? "" : null].filter((t) => t !== null);
    return h("table", { class: "data", id: "performance-table" },
      h("thead", {}, h("tr", {}, head.map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.map((c) => {
        const over = c.false_positive > c.expected_false_alerts;
        return h("tr", { class: over ? "over" : null, dataset: { camera: c.camera_id } },
          h("td", {}, cameraName(this.ctx, c.camera_id)), h("td", {}, c.alerts), h("td", {}, c.confirmed),
          h("td", { class: "fp" }, c.false_positive, over ? h("span", { class: "badge over-badge" }, "above expectation") : null),
          h("td", {}, c.open), h("td", {}, c.false_positive_rate === null ? "—" : percent(c.false_positive_rate)),
          h("td", {}, expected(c.expected_false_alerts)),
          h("td", { class: "camera-threshold" }, c.face_threshold === null ? "lists' own" : `≥ ${c.face_threshold.toFixed(3)}`),
          manage ? h("td", {}, this.cameraRaise(c)) : null);
      })));
  }

  renderListRaise() {
    const w = this.w;
    if (!w.may_edit) {
      fill(this.listRaise);
      return;
    }
    const open = () => fill(this.listRaise, raiseForm("raise-list-form", suggested(w.threshold), (floor, reason) => this.raiseList(floor, reason)));
    fill(this.listRaise, h("button", { type: "button", class: "secondary", id: "raise-list", onclick: open }, `Raise this list's threshold (now ${w.threshold.toFixed(3)})…`));
  }

  async raiseList(floor, reason) {
    try {
      const after = await send("PATCH", `/watchlists/${this.w.id}`, { threshold_floor: floor, reason });
      say(this.message, `The list now alerts at similarity ≥ ${after.threshold.toFixed(3)}.`, "info");
      this.onListChanged(after);
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  cameraRaise(c) {
    const cell = h("span", {});
    const start = Math.max(c.face_threshold || 0, this.w.threshold);
    const set = (value, reason) => this.raiseCamera(c.camera_id, value, reason);
    const open = () => fill(cell, raiseForm(`raise-camera-${c.camera_id}`, suggested(start), set, c.face_threshold === null ? null : (reason) => set(null, reason)));
    return fill(cell, h("button", { type: "button", class: "secondary raise-camera", onclick: open }, "Raise camera threshold…"));
  }

  async raiseCamera(cameraId, value, reason) {
    try {
      const camera = await send("PUT", `/cameras/${encodeURIComponent(cameraId)}/face-threshold`, { face_threshold: value, reason });
      this.ctx.cameras.set(camera.id, camera);
      say(this.message, value === null
        ? `${cameraName(this.ctx, cameraId)}: back to each list's own threshold.`
        : `${cameraName(this.ctx, cameraId)}: every list now alerts there only at similarity ≥ ${value.toFixed(3)}.`, "info");
      this.load();
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }
}
