// The audit log for supervisors: who did what, to what, when, from where and why; newest first, paged,
// and the hash chain verified on request. Reading the log is itself audited by the API.
import { fill, formatTime, formValues, h, localToIso, query, say } from "../dom.js";
import { table } from "../records.js";
import { getJson } from "../session.js";

export class AuditScreen {
  mount(container) {
    this.form = h("form", { class: "filters", id: "audit-form" },
      h("label", {}, "Actor", h("input", { name: "actor", maxlength: 200, placeholder: "staff:12:Name" })),
      h("label", {}, "Action", h("input", { name: "action", maxlength: 64, placeholder: "persons.search" })),
      h("label", {}, "Target", h("input", { name: "target", maxlength: 200, placeholder: "alert:42" })),
      h("label", {}, "From", h("input", { name: "since", type: "datetime-local" })),
      h("label", {}, "Until", h("input", { name: "until", type: "datetime-local" })),
      h("button", { type: "submit" }, "Show"),
      h("button", { type: "button", class: "secondary", id: "audit-verify", onclick: () => this.verify() }, "Verify the chain"));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.load(null); });
    this.message = h("p", { class: "message", id: "audit-message" });
    this.results = h("div", { id: "audit-results" });
    fill(container, h("h2", {}, "Audit log"), this.form, this.message, this.results);
    this.loaded = false;
  }

  show() {
    if (!this.loaded) this.load(null);
  }

  async load(beforeId) {
    this.loaded = true;
    const v = formValues(this.form);
    const params = { actor: v.actor, action: v.action, target: v.target, since: localToIso(v.since), until: localToIso(v.until), limit: 100, before_id: beforeId };
    try {
      const page = await getJson(`/audit${query(params)}`);
      say(this.message, `${page.entries.length} entries${beforeId ? ` before #${beforeId}` : ""}`);
      const older = page.next_before_id ? h("button", { type: "button", class: "secondary", onclick: () => this.load(page.next_before_id) }, "Older") : null;
      fill(this.results, table([
        ["#", (e) => String(e.id)], ["When", (e) => formatTime(e.timestamp)], ["Who", (e) => e.actor], ["Role", (e) => e.role || ""],
        ["Action", (e) => e.action], ["Target", (e) => e.target], ["Reason", (e) => e.reason || ""], ["From", (e) => e.ip || ""],
        ["Details", (e) => details(e.details)],
      ], page.entries, { id: "audit-table" }), older);
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  async verify() {
    try {
      const result = await getJson("/audit/verify");
      say(this.message, result.ok ? `Chain intact: ${result.checked} entries checked.` : `Chain broken: ${result.problem}`, result.ok ? "info" : "error");
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }
}

// An entry's details as short "key: value" lines: hashes cut to their first 12 characters (enough to
// compare by eye), nested values one level deep, never raw JSON across the screen.
const HASH = /^[0-9a-f]{40,}$/;

function brief(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string") return HASH.test(value) ? `${value.slice(0, 12)}…` : value.length > 120 ? `${value.slice(0, 120)}…` : value;
  if (Array.isArray(value)) return value.length > 6 ? `${value.slice(0, 6).map(brief).join(", ")} (+${value.length - 6})` : value.map(brief).join(", ");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k} ${typeof v === "object" && v !== null ? "…" : brief(v)}`).join("; ");
  return String(value);
}

function details(object) {
  const entries = Object.entries(object || {});
  if (!entries.length) return "";
  return h("dl", { class: "facts audit-details" }, entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, brief(v))]));
}
