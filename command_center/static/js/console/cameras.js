// The camera catalogue (#/cameras): every camera the caller may see with its district, position,
// analytics, face threshold and health (a camera refusing its worker's login says so). Those who manage
// watch lists set or clear a camera's own face threshold, with a reason. No stream URL or password is
// ever shown: the API does not send them.
import { fill, h, label, say } from "../dom.js";
import { table } from "../records.js";
import { getJson, send } from "../session.js";
import { attempt, heading } from "./admin_kit.js";

function health(camera) {
  const ok = camera.health === "ok";
  return [h("span", { class: `badge ${ok ? "status-resolved" : "status-new"}` }, label(camera.health)),
    camera.health_summary ? h("div", { class: "muted" }, camera.health_summary) : null];
}

export class CamerasScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.cameras = [];
  }

  mount(container) {
    this.message = h("p", { class: "message", id: "cameras-message", role: "status" });
    this.results = h("div", { id: "cameras-results" });
    this.reason = this.ctx.can("watchlists:manage")
      ? h("div", { class: "filters" }, h("label", { class: "reason" }, "Reason for a threshold change (recorded in the audit trail)",
        h("input", { id: "cameras-reason", maxlength: 500, placeholder: "e.g. false alerts at dusk, ticket 88" })))
      : null;
    fill(container, heading("Cameras", "cameras", () => this.show()), this.reason, this.message, this.results);
  }

  async show() {
    try {
      this.cameras = await getJson("/cameras");
      for (const camera of this.cameras) this.ctx.cameras.set(camera.id, camera);
      say(this.message, `${this.cameras.length} camera${this.cameras.length === 1 ? "" : "s"}`, "");
      this.render();
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  render() {
    const rows = this.cameras.map((c) => ({ ...c, __attrs: { dataset: { camera: c.id } } }));
    fill(this.results, table([
      ["Id", (c) => h("code", {}, c.id)],
      ["Name", (c) => h("span", { class: "name" }, c.name)],
      ["District", (c) => c.district],
      ["Position", (c) => (c.latitude === null || c.latitude === undefined ? "not placed" : `${c.latitude.toFixed(5)}, ${c.longitude.toFixed(5)}`)],
      ["Analytics", (c) => c.analytics.map(label).join(", ")],
      ["Face threshold", (c) => this.threshold(c)],
      ["Health", health],
    ], rows, { id: "cameras-table" }));
  }

  threshold(camera) {
    const shown = camera.face_threshold === null || camera.face_threshold === undefined ? "each list's own" : `≥ ${camera.face_threshold.toFixed(3)}`;
    if (!this.ctx.can("watchlists:manage")) return shown;
    const input = h("input", { type: "number", name: "face_threshold", min: 0.01, max: 0.99, step: 0.01, value: camera.face_threshold ?? "",
      placeholder: "lists' own", "aria-label": `face threshold of ${camera.name}`, class: "narrow" });
    const save = h("button", { type: "button", class: "secondary", onclick: () => this.setThreshold(camera, input.value) }, "Set");
    return h("div", { class: "inline" }, input, save);
  }

  async setThreshold(camera, value) {
    const reason = document.getElementById("cameras-reason").value.trim();
    const face_threshold = value === "" ? null : Number(value);
    const path = `/cameras/${encodeURIComponent(camera.id)}/face-threshold`;
    const done = (c) => `${c.name}: face threshold ${c.face_threshold === null ? "cleared (each list's own)" : `now ${c.face_threshold}`}`;
    const changed = await attempt(this.message, () => send("PUT", path, { face_threshold, reason }), done);
    if (changed) {
      const text = this.message.textContent;
      await this.show();
      say(this.message, text, "info");
    }
  }
}
